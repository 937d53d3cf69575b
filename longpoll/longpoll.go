package longpoll

import (
	"net/http"
	"strconv"

	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/sse"
)

// Downstream answers long-poll requests. It is safe for concurrent use.
type Downstream struct{}

var _ emulation.Downstream = Downstream{}

// Name returns "longpoll".
func (Downstream) Name() string { return "longpoll" }

// ServeLeg holds the request until frames are ready (or Config.PollHold
// passes) and answers them, or a heartbeat.
func (Downstream) ServeLeg(w http.ResponseWriter, r *http.Request, s *emulation.Session, leg *emulation.Leg, release func()) {
	defer release()
	cfg := s.Config()
	b, err := leg.Next(r.Context(), cfg.PollHold, cfg.StreamBytes)
	switch err {
	case nil, emulation.ErrReplaced:
	case emulation.ErrSessionDone:
		emulation.WriteError(w, err)
		return
	default:
		return // the client went away
	}
	body := sse.AppendBatch(nil, b)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}
