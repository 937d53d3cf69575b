package emulation

import (
	"net/http"
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
			writeOutsideWindow(w)
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

func writeOutsideWindow(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("data: c4010 resume outside retention window\n\n"))
}
