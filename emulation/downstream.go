package emulation

import (
	"net/http"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

// Downstream is a carrier that streams a session's frames in an HTTP
// response: package sse and package longpoll implement it.
type Downstream interface {
	// Name is the transport name ("sse", "longpoll").
	Name() string
	// ServeLeg writes frames from leg to w until the leg ends, the request
	// ends, or the carrier decides to end the response. It must call
	// release exactly once, when it no longer uses the leg; it may return
	// before that if it took the connection over (a hijacked stream).
	ServeLeg(w http.ResponseWriter, r *http.Request, s *Session, leg *Leg, release func())
	// ServeFinal answers a downstream request with the carrier's usual
	// response holding only b, after which the session is over (a resume
	// outside the retention window, see OutsideWindow).
	ServeFinal(w http.ResponseWriter, r *http.Request, b wire.Batch)
}

// OutsideWindow is what every carrier answers a resume after last that
// falls outside the retention window (PROTOCOL.md §5.1): one sequenced
// frame, "c4010 resume outside retention window", numbered last+1. The
// session has failed with 4010 already.
func OutsideWindow(last uint64) wire.Batch {
	return wire.Batch{Frames: []wire.Frame{{Seq: last + 1, Kind: wire.KindClose, Code: bytesocket.StatusResumeOutsideWindow,
		Data: []byte("resume outside retention window")}}}
}

// ServeDownstream handles GET B/.ferry/{sid}/{sse,poll}: it resumes after
// Last-Event-ID or last, attaches a leg, and hands it to d.
func (sv *Server) ServeDownstream(w http.ResponseWriter, r *http.Request, sid string, d Downstream) {
	s, err := sv.Lookup(sid)
	if err != nil {
		WriteError(w, err)
		return
	}
	last, err := ParseLast(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	s.Hold()
	leg, err := s.AttachLeg(last, d.Name(), false)
	if err != nil {
		s.Release()
		if err == ErrOutsideWindow {
			d.ServeFinal(w, r, OutsideWindow(last))
		} else {
			WriteError(w, err)
		}
		return
	}
	d.ServeLeg(w, r, s, leg, func() {
		leg.Detach()
		s.Release()
	})
}
