package longpoll

import (
	"net/http"
	"strconv"

	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/wire"
)

// Downstream answers long-poll requests. It is safe for concurrent use.
type Downstream struct{}

var _ emulation.Downstream = Downstream{}

// Name returns "longpoll".
func (Downstream) Name() string { return "longpoll" }

// ServeLeg holds the request until frames are ready (or Config.PollHold
// passes, or Config.Heartbeat if shorter: a held poll is an open
// downstream, which carries a frame at least once per heartbeat) and
// answers them, or a heartbeat.
//
// Frames ready at once are answered inside net/http. A poll that must
// wait is, where the server can take connections back (see
// emulation.WithHandBack; Gateway.Serve can), taken off net/http while
// it waits: the idle session then holds one shallow goroutine and its
// connection, not net/http's goroutines and buffers, and the connection
// goes back to the server for its next request once answered. A client
// that closes the connection while its poll waits is noticed at once
// (Detached.Watch), so the session's resume timeout starts then.
func (Downstream) ServeLeg(w http.ResponseWriter, r *http.Request, s *emulation.Session, leg *emulation.Leg, release func()) {
	cfg := s.Config()
	hold := min(cfg.PollHold, cfg.Heartbeat)
	setHeaders(w.Header())
	b, err := leg.Next(r.Context(), 0, cfg.StreamBytes)
	if err == nil && b.Empty() {
		if d := emulation.Detach(w, r); d != nil {
			go func() {
				defer release()
				ctx := d.Watch()
				b, err := leg.Next(ctx, hold, cfg.StreamBytes)
				if ctx.Err() != nil {
					d.Close() // the client went away
					return
				}
				status, body := answer(b, err)
				d.Respond(status, body, 2*cfg.Heartbeat)
			}()
			return
		}
		b, err = leg.Next(r.Context(), hold, cfg.StreamBytes)
	}
	defer release()
	if err != nil && err != emulation.ErrReplaced && err != emulation.ErrSessionDone {
		return // the client went away
	}
	status, body := answer(b, err)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func setHeaders(h http.Header) {
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// answer is the response to a poll that ended with b and err: the batch
// (a heartbeat when empty, as for a replaced leg), or the error.
func answer(b wire.Batch, err error) (int, []byte) {
	if err != nil && err != emulation.ErrReplaced {
		return emulation.ErrorResponse(err)
	}
	return http.StatusOK, wire.AppendBatchEvent(nil, b)
}

// ServeFinal answers the poll with b, as it answers any batch.
func (Downstream) ServeFinal(w http.ResponseWriter, _ *http.Request, b wire.Batch) {
	setHeaders(w.Header())
	body := wire.AppendBatchEvent(nil, b)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}
