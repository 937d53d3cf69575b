package emulation

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/ferrygw/ferry/bytesocket"
)

// ParseBody splits an upstream body into frames (PROTOCOL.md §5.2). On a
// bad frame it returns the frames before it and the error.
func ParseBody(body []byte) ([]Frame, error) {
	var frames []Frame
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		f, err := ParseSequenced(line)
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
	return frames, nil
}

// ServeSend handles POST B/.ferry/{sid}/send.
func (sv *Server) ServeSend(w http.ResponseWriter, r *http.Request, sid string) {
	s, err := sv.Lookup(sid)
	if err != nil {
		WriteError(w, err)
		return
	}
	s.Hold()
	defer s.Release()
	recv, err := sv.send(r, s)
	if err != nil {
		WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(AppendAck(nil, recv))
}

func (sv *Server) send(r *http.Request, s *Session) (uint64, error) {
	q := r.URL.Query()
	if a := q.Get("ack"); a != "" {
		n, ok := ParseUint(a)
		if !ok {
			return 0, errWith(ErrBadNumber, "ack")
		}
		if err := s.Ack(n); err != nil {
			return 0, err
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, sv.Config.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.Abort(bytesocket.StatusMessageTooBig, "request body too large")
			return 0, ErrBodyTooLarge
		}
		return 0, err
	}
	frames, perr := ParseBody(body)
	if len(body) == 0 {
		return s.Received(), nil
	}
	seq, ok := ParseUint(q.Get("seq"))
	if !ok || seq == 0 {
		return 0, errWith(ErrMissingSeq, "seq must be a number ≥ 1")
	}
	recv, err := s.Deliver(r.Context(), seq, frames)
	if errors.Is(err, bytesocket.ErrMessageTooBig) {
		return recv, ErrMessageTooBig
	}
	if err != nil {
		return recv, err
	}
	if errors.Is(perr, bytesocket.ErrInvalidUTF8) {
		s.Abort(bytesocket.StatusInvalidFramePayload, "invalid UTF-8 in text message")
		return recv, ErrInvalidUTF8
	}
	return recv, perr
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
// parameter, else 0.
func ParseLast(r *http.Request) (uint64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last")
	}
	if v == "" {
		return 0, nil
	}
	n, ok := ParseUint(v)
	if !ok {
		return 0, errWith(ErrBadNumber, "last "+strconv.Quote(trunc(v, 32)))
	}
	return n, nil
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
