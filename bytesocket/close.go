package bytesocket

import (
	"errors"
	"fmt"
)

// StatusCode is a WebSocket close code (RFC 6455, section 7.4).
type StatusCode int

// Close codes from RFC 6455 and the IANA registry, plus Ferry's own
// codes in the private range (documented in docs/PROTOCOL.md).
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	// StatusNoStatusRcvd is reported when a close carried no code. It is
	// never sent.
	StatusNoStatusRcvd StatusCode = 1005
	// StatusAbnormalClosure is reported when the connection or session was
	// lost without a close. It is never sent.
	StatusAbnormalClosure     StatusCode = 1006
	StatusInvalidFramePayload StatusCode = 1007
	StatusPolicyViolation     StatusCode = 1008
	StatusMessageTooBig       StatusCode = 1009
	StatusMandatoryExtension  StatusCode = 1010
	StatusInternalError       StatusCode = 1011
	StatusServiceRestart      StatusCode = 1012
	StatusTryAgainLater       StatusCode = 1013
	StatusBadGateway          StatusCode = 1014
	StatusTLSHandshake        StatusCode = 1015
	StatusResumeOutsideWindow StatusCode = 4010
	StatusSessionExpired      StatusCode = 4011
	StatusSlowConsumer        StatusCode = 4012
)

// Sendable reports whether code may be sent in a close frame: 1000-1003,
// 1007-1014, and 3000-4999 (RFC 6455, section 7.4.2).
func (c StatusCode) Sendable() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014, c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// CloseError is the error a Socket reports once its peer has closed it, or
// once it was lost (Code StatusAbnormalClosure).
type CloseError struct {
	Code   StatusCode
	Reason string
}

// Error describes the close.
func (e CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("bytesocket: closed with status %d", e.Code)
	}
	return fmt.Sprintf("bytesocket: closed with status %d: %s", e.Code, e.Reason)
}

// CloseStatus returns the code of the CloseError in err's chain, or -1 if
// there is none.
func CloseStatus(err error) StatusCode {
	var ce CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}
