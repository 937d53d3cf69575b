package sse

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/wire"
)

// Downstream serves a session's frames as an event stream
// (PROTOCOL.md §5.1): prelude, an "o" event, then an event per batch of
// frames, a heartbeat when idle, and a reconnect frame after the byte
// budget.
// It is safe for concurrent use.
type Downstream struct{}

var _ emulation.Downstream = Downstream{}

// Name returns "sse".
func (Downstream) Name() string { return "sse" }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// ServeLeg streams frames from leg until the budget is spent, the leg is
// replaced or the session ends. On HTTP/1.x it takes the connection off
// net/http after the headers (see hijack) and streams from a goroutine of
// its own, so an idle stream holds no net/http buffers, only two small
// goroutines (the writer, and a reader that notices at once a client that
// went away).
func (Downstream) ServeLeg(w http.ResponseWriter, r *http.Request, s *emulation.Session, leg *emulation.Leg, release func()) {
	setHeaders(w.Header())
	hb := s.Config().Heartbeat
	if out, ctx, done, taken := hijack(w, r, hb); taken {
		if out == nil { // the client went away before the head was written
			release()
			return
		}
		go func() {
			defer release()
			defer done()
			streamLeg(ctx, s, leg, out)
		}()
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	streamLeg(r.Context(), s, leg, func(p []byte) bool { return flushOut(w, rc, p, hb) })
}

// ServeFinal answers with a whole stream holding only b: the prelude, the
// retry field, and b as one event. There is no "o" event: the session is
// over.
func (Downstream) ServeFinal(w http.ResponseWriter, _ *http.Request, b wire.Batch) {
	setHeaders(w.Header())
	buf := append(append([]byte(nil), wire.Prelude(wire.PreludeBytes)...), "retry: 1000\n"...)
	_, _ = w.Write(wire.AppendBatchEvent(buf, b))
}

func setHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, no-transform")
	h.Set("X-Accel-Buffering", "no")
}

// hijack takes an HTTP/1.x connection from net/http, writes the response
// head (headers already set on w, CORS included, and Connection: close, so
// the body ends with the connection), and returns a writer for the body.
// taken reports whether net/http gave the connection up: if so, w must not
// be used again, and out is nil when writing the head already failed (the
// connection is then closed). ctx ends when the client closes the
// connection.
func hijack(w http.ResponseWriter, r *http.Request, hb time.Duration) (out func([]byte) bool, ctx context.Context, done func(), taken bool) {
	hj, isHJ := w.(http.Hijacker)
	if !isHJ || r.ProtoMajor != 1 {
		return nil, nil, nil, false
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, nil, false
	}
	brw.Reader.Reset(nil) // release net/http's buffers
	brw.Writer.Reset(nil)
	w.Header().Set("Connection", "close")
	head := []byte("HTTP/1.1 200 OK\r\n")
	var b headBuf
	_ = w.Header().Write(&b)
	head = append(append(head, b...), "\r\n"...)
	out = func(p []byte) bool {
		_ = conn.SetWriteDeadline(time.Now().Add(2 * hb))
		_, err := conn.Write(p)
		return err == nil
	}
	if !out(head) {
		conn.Close()
		return nil, nil, nil, true
	}
	ctx, stop := emulation.WatchClose(conn)
	return out, ctx, func() { conn.Close(); stop() }, true
}

type headBuf []byte

func (b *headBuf) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

// streamLeg writes the prelude, the open event, then batches from leg until
// the budget is spent (ending with a reconnect frame) or the leg ends.
func streamLeg(ctx context.Context, s *emulation.Session, leg *emulation.Leg, out func([]byte) bool) {
	cfg := s.Config()
	written, ok := send(out, func(buf []byte) []byte {
		buf = append(buf, wire.Prelude(wire.PreludeBytes)...)
		buf = append(buf, "retry: 1000\n"...)
		return wire.AppendEvent(buf, 0, wire.AppendOpen(nil, s.Info()))
	})
	for ok && written < cfg.StreamBytes {
		b, err := leg.Next(ctx, cfg.Heartbeat, cfg.StreamBytes-written)
		if err != nil {
			return
		}
		var n int
		n, ok = send(out, func(buf []byte) []byte { return wire.AppendBatchEvent(buf, b) })
		written += n
	}
	if ok {
		send(out, func(buf []byte) []byte {
			return wire.AppendEvent(buf, 0, []byte{wire.KindReconnect})
		})
	}
}

// send fills a pooled buffer with fill and writes it with out, returning
// the byte count and whether it succeeded.
func send(out func([]byte) bool, fill func([]byte) []byte) (int, bool) {
	bp := bufPool.Get().(*[]byte)
	buf := fill((*bp)[:0])
	ok := out(buf)
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		bufPool.Put(bp)
	}
	return len(buf), ok
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
