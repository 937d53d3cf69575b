package bytesocket_test

import (
	"errors"
	"net"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
)

func TestMessageTypeString(t *testing.T) {
	for _, tt := range []struct {
		typ  bytesocket.MessageType
		want string
	}{
		{bytesocket.Text, "text"},
		{bytesocket.Binary, "binary"},
		{0, "MessageType(0)"},
		{9, "MessageType(9)"},
		{-12, "MessageType(-12)"},
	} {
		if got := tt.typ.String(); got != tt.want {
			t.Errorf("MessageType(%d).String() = %q, want %q", int(tt.typ), got, tt.want)
		}
	}
}

func TestErrClosed(t *testing.T) {
	err := bytesocket.ErrClosed("read")
	if !errors.Is(err, net.ErrClosed) {
		t.Errorf("ErrClosed(%q) = %v, which does not wrap net.ErrClosed", "read", err)
	}
	if got, want := err.Error(), "read bytesocket: use of closed network connection"; got != want {
		t.Errorf("ErrClosed(%q).Error() = %q, want %q", "read", got, want)
	}
}
