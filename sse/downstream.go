package sse

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ferrygw/ferry/emulation"
)

// PreludeBytes is the size of the comment that opens every stream, so
// that buffering intermediaries and old XHR implementations release data.
const PreludeBytes = 2048

// Downstream serves a session's frames as an event stream
// (PROTOCOL.md §5.1): prelude, an "o" event, then one event per frame,
// a heartbeat when idle, and a reconnect frame after the byte budget.
// It is safe for concurrent use.
type Downstream struct{}

var _ emulation.Downstream = Downstream{}

// Name returns "sse".
func (Downstream) Name() string { return "sse" }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// ServeLeg streams frames from leg until the budget is spent, the leg is
// replaced or the session ends.
func (Downstream) ServeLeg(w http.ResponseWriter, r *http.Request, s *emulation.Session, leg *emulation.Leg) {
	cfg := s.Config()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, no-transform")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	bp := bufPool.Get().(*[]byte)
	defer func() { bufPool.Put(bp) }()
	buf := append((*bp)[:0], Prelude(PreludeBytes)...)
	buf = append(buf, "retry: 1000\n"...)
	buf = AppendFrameEvent(buf, 0, s.AppendOpen(nil))
	written := 0
	for {
		if !flushOut(w, rc, buf, cfg.Heartbeat) {
			return
		}
		written += len(buf)
		if written >= cfg.StreamBytes {
			flushOut(w, rc, AppendFrameEvent(buf[:0], 0, []byte{emulation.KindReconnect}), cfg.Heartbeat)
			return
		}
		b, err := leg.Next(r.Context(), cfg.Heartbeat, cfg.StreamBytes-written)
		if err != nil {
			return
		}
		buf = appendBatch(buf[:0], b)
		*bp = buf
	}
}

// appendBatch writes a batch as events; an empty batch is a heartbeat.
func appendBatch(buf []byte, b emulation.Batch) []byte {
	if len(b.Frames) == 0 {
		return AppendFrameEvent(buf, 0, []byte{emulation.KindHeartbeat})
	}
	for i := range b.Frames {
		buf = appendSequenced(buf, &b.Frames[i])
	}
	return buf
}

func appendSequenced(buf []byte, f *emulation.Frame) []byte {
	buf = append(buf, "id: "...)
	buf = strconv.AppendUint(buf, f.Seq, 10)
	buf = append(buf, "\ndata: "...)
	buf = f.AppendText(buf)
	return append(buf, '\n', '\n')
}

// AppendFrameEvent appends an event carrying one frame in text form (which
// never contains CR or LF); id 0 writes no id line.
func AppendFrameEvent(dst []byte, id uint64, frame []byte) []byte {
	if id != 0 {
		dst = append(dst, "id: "...)
		dst = strconv.AppendUint(dst, id, 10)
		dst = append(dst, '\n')
	}
	dst = append(dst, "data: "...)
	dst = append(dst, frame...)
	return append(dst, '\n', '\n')
}

// flushOut writes p and flushes it, with a write deadline so a stalled
// client cannot hold the handler forever. It reports success.
func flushOut(w http.ResponseWriter, rc *http.ResponseController, p []byte, hb time.Duration) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(2 * hb))
	if _, err := w.Write(p); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// AppendBatch appends a batch's frames as events (an empty batch as a
// heartbeat). Long-poll bodies use the same syntax.
func AppendBatch(buf []byte, b emulation.Batch) []byte { return appendBatch(buf, b) }
