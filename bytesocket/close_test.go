package bytesocket_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
)

func TestSendable(t *testing.T) {
	for _, tt := range []struct {
		code bytesocket.StatusCode
		want bool
	}{
		{-1, false}, {0, false}, {999, false},
		{1000, true}, {1001, true}, {1002, true}, {1003, true},
		{1004, false}, {1005, false}, {1006, false},
		{1007, true}, {1010, true}, {1014, true},
		{1015, false}, {1016, false}, {2999, false},
		{3000, true}, {4000, true}, {4010, true}, {4999, true},
		{5000, false}, {65535, false},
	} {
		if got := tt.code.Sendable(); got != tt.want {
			t.Errorf("StatusCode(%d).Sendable() = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestCloseStatus(t *testing.T) {
	ce := bytesocket.CloseError{Code: bytesocket.StatusSlowConsumer, Reason: "behind"}
	for _, tt := range []struct {
		name string
		err  error
		want bytesocket.StatusCode
	}{
		{"nil", nil, -1},
		{"other error", io.EOF, -1},
		{"CloseError", ce, bytesocket.StatusSlowConsumer},
		{"wrapped", fmt.Errorf("read: %w", ce), bytesocket.StatusSlowConsumer},
		{"joined", errors.Join(io.EOF, ce), bytesocket.StatusSlowConsumer},
		{"abnormal", bytesocket.CloseError{Code: bytesocket.StatusAbnormalClosure}, bytesocket.StatusAbnormalClosure},
	} {
		if got := bytesocket.CloseStatus(tt.err); got != tt.want {
			t.Errorf("%s: CloseStatus(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestCloseErrorString(t *testing.T) {
	for _, tt := range []struct {
		err  bytesocket.CloseError
		want string
	}{
		{bytesocket.CloseError{Code: 1000}, "bytesocket: closed with status 1000"},
		{bytesocket.CloseError{Code: 4010, Reason: "resume outside retention window"},
			"bytesocket: closed with status 4010: resume outside retention window"},
		{bytesocket.CloseError{Code: 1006, Reason: "ferry: session expired"},
			"bytesocket: closed with status 1006: ferry: session expired"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}
