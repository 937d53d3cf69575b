package emulation

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

// ServeSend handles POST B/.ferry/{sid}/send.
func (sv *Server) ServeSend(w http.ResponseWriter, r *http.Request, sid string) {
	s, err := sv.Lookup(sid)
	if err != nil {
		WriteError(w, err)
		return
	}
	s.Hold()
	defer s.Release()
	recv, err := sv.send(w, r, s)
	if err != nil {
		if errors.Is(err, ErrUploadTimeout) && r.ProtoMajor == 1 {
			// The body was not read to its end. (HTTP/2 ends just the
			// stream; "Connection: close" there would drain the whole
			// connection, every other session's requests included.)
			w.Header().Set("Connection", "close")
		}
		WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(wire.AppendAck(nil, recv))
}

// send applies the request's ack, then delivers its body's frames as they
// are read and parsed, and returns the new upstream ack.
func (sv *Server) send(w http.ResponseWriter, r *http.Request, s *Session) (uint64, error) {
	if err := checkContentType(r); err != nil {
		return 0, err
	}
	q := r.URL.Query()
	if a := q.Get("ack"); a != "" {
		n, ok := wire.ParseUint(a)
		if !ok {
			return 0, errWith(wire.ErrBadNumber, "ack")
		}
		if err := s.Ack(n); err != nil {
			return 0, err
		}
	}
	tb := &timedBody{r: http.MaxBytesReader(nil, r.Body, sv.Config.MaxBodyBytes),
		rc: http.NewResponseController(w), budget: sv.Config.UploadTimeout}
	defer tb.done()
	body := wire.NewBodyReader(tb, sv.Config.MaxBodyFrames)
	if empty, err := body.Empty(); empty || err != nil {
		return s.Received(), sendError(s, err)
	}
	seq, ok := wire.ParseUint(q.Get("seq"))
	if !ok || seq == 0 {
		return 0, errWith(ErrMissingSeq, "seq must be a number ≥ 1")
	}
	recv, err := s.DeliverEach(r.Context(), seq, body.Next)
	return recv, sendError(s, err)
}

// sendError maps what ended an upstream body's delivery to the error the
// request is answered with, closing the session where PROTOCOL.md §5.2
// says so: 1009 for a message, body or batch over its limit, 1007 for
// invalid UTF-8.
func sendError(s *Session, err error) error {
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mbe):
		s.Abort(bytesocket.StatusMessageTooBig, "request body too large")
		return ErrBodyTooLarge
	case errors.Is(err, wire.ErrTooManyFrames):
		s.Abort(bytesocket.StatusMessageTooBig, "too many frames in one request")
		return err
	case errors.Is(err, bytesocket.ErrMessageTooBig):
		return ErrMessageTooBig
	case errors.Is(err, bytesocket.ErrInvalidUTF8):
		s.Abort(bytesocket.StatusInvalidFramePayload, "invalid UTF-8 in text message")
		return ErrInvalidUTF8
	}
	return err
}

type detailErr struct {
	err    error
	detail string
}

func (e detailErr) Error() string { return e.err.Error() + ": " + e.detail }
func (e detailErr) Unwrap() error { return e.err }

func errWith(err error, detail string) error { return detailErr{err, detail} }

// ParseLast reads the resume point of a downstream request: the
// Last-Event-ID header when present and not empty, else the last query
// parameter, else 0. A last parameter that is present but empty is
// malformed.
func ParseLast(r *http.Request) (uint64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		vs, ok := r.URL.Query()["last"]
		if !ok {
			return 0, nil
		}
		v = vs[0]
	}
	n, ok := wire.ParseUint(v)
	if !ok {
		return 0, errWith(wire.ErrBadNumber, "last "+strconv.Quote(trunc(v, 32)))
	}
	return n, nil
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
