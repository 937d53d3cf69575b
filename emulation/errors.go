package emulation

import (
	"errors"
	"net/http"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

// Errors returned by channels, sessions and the registry. Each maps to one
// HTTP status in [Status], as do the errors of package wire.
var (
	ErrSessionNotFound = errors.New("ferry: session not found")
	ErrAheadOfStream   = errors.New("ferry: last ahead of stream")
	ErrAckAhead        = errors.New("ferry: ack ahead of stream")
	ErrSeqGap          = errors.New("ferry: seq gap")
	ErrMissingSeq      = errors.New("ferry: missing seq")
	ErrOutsideWindow   = errors.New("ferry: resume outside retention window")
	ErrReplaced        = errors.New("ferry: carrier replaced by a newer one")
	ErrSessionDone     = errors.New("ferry: session finished")
	ErrBodyTooLarge    = errors.New("ferry: request body too large")
	ErrUploadTimeout   = errors.New("ferry: request body too slow")
	ErrCreditExceeded  = errors.New("ferry: inbound credit exceeded")
	ErrBadTransport    = errors.New("ferry: unknown transport")
	ErrTransportOff    = errors.New("ferry: transport not offered")
	ErrContentType     = errors.New("ferry: unsupported content type")
	ErrTooManySessions = errors.New("ferry: too many sessions")
	ErrShuttingDown    = errors.New("ferry: server shutting down")
	ErrInvalidUTF8     = errors.New("ferry: text message is not valid UTF-8")
	ErrMessageTooBig   = errors.New("ferry: message too big")
)

// Status maps an error from this package or package wire to the HTTP
// status documented in PROTOCOL.md §2.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrSessionNotFound), errors.Is(err, ErrSessionDone):
		return http.StatusNotFound
	case errors.Is(err, ErrSeqGap):
		return http.StatusConflict
	case errors.Is(err, ErrTransportOff):
		return http.StatusForbidden
	case errors.Is(err, ErrContentType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrUploadTimeout):
		return http.StatusRequestTimeout
	case errors.Is(err, ErrBodyTooLarge), errors.Is(err, wire.ErrTooManyFrames),
		errors.Is(err, ErrMessageTooBig), errors.Is(err, bytesocket.ErrMessageTooBig):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrTooManySessions), errors.Is(err, ErrShuttingDown):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}
