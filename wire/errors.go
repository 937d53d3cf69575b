package wire

import "errors"

// Errors returned by the parsers in this package. A server answers a
// request that fails with one of them with its text as the body
// (PROTOCOL.md §2: "ferry: " and the reason), so that text is part of the
// protocol; ErrEventTooLarge is only ever seen by a client. The parsers
// also return bytesocket.ErrInvalidUTF8 for a text message that is not
// UTF-8 and bytesocket.ErrMessageTooBig for one over a limit.
var (
	ErrBadFrame      = errors.New("ferry: malformed frame")
	ErrBadNumber     = errors.New("ferry: malformed number")
	ErrTooManyFrames = errors.New("ferry: too many frames in one request")
	ErrVersion       = errors.New("ferry: unsupported protocol version")
	ErrBadProtocol   = errors.New("ferry: malformed subprotocol list")
	ErrNoProtocol    = errors.New("ferry: no supported subprotocol")
	ErrEventTooLarge = errors.New("wire: event too large")
)

// detailErr is a sentinel error with a detail appended to its text.
type detailErr struct {
	err    error
	detail string
}

func (e detailErr) Error() string { return e.err.Error() + ": " + e.detail }
func (e detailErr) Unwrap() error { return e.err }

func errWith(err error, detail string) error { return detailErr{err, detail} }
