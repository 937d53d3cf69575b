package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
)

// Timing margins around the measured window.
const (
	// drainTime is how long echo and up wait, after the window, for the
	// answers still owed.
	drainTime = 15 * time.Second
	// tailTime is how long, at most, broadcast subscribers keep reading
	// after the window for the publisher's fence (its last message).
	tailTime = 10 * time.Second
	// closeTime bounds the closing handshake of every session.
	closeTime = 5 * time.Second
)

// window is the measured period of a run: warm-up from start to warm,
// measurement from warm to end.
type window struct{ start, warm, end time.Time }

func newWindow(start time.Time, c *Config) window {
	return window{start: start, warm: start.Add(c.Warmup), end: start.Add(c.Warmup + c.Duration)}
}

func (w window) in(t time.Time) bool { return !t.Before(w.warm) && t.Before(w.end) }

// share is one process's part of a run.
type share struct {
	Config   Config `json:"config"`
	Index    int    `json:"index"`    // process index
	Sessions int    `json:"sessions"` // sessions this process opens
	First    int    `json:"first"`    // global index of its first session
	Sources  int    `json:"sources"`  // loopback source addresses to spread over
}

// readyInfo is what a process reports once its sessions are open.
type readyInfo struct {
	Open       int `json:"open"`
	DialErrors int `json:"dial_errors"`
}

// Partial is one process's measurements, merged by Run.
type Partial struct {
	Open          int        `json:"open"`        // sessions opened
	DialErrors    int        `json:"dial_errors"` // sessions that failed to open
	Errors        int        `json:"errors"`      // sessions that failed while running
	ErrorSamples  []string   `json:"error_samples,omitempty"`
	CloseTimeouts int        `json:"close_timeouts"` // closing handshakes not finished in time
	NoFence       int        `json:"no_fence"`       // broadcast subscribers still waiting for the fence after tailTime
	Dial          *Histogram `json:"dial"`           // time to open a session
	Latency       *Histogram `json:"latency"`        // echo round trip or broadcast delivery
	Messages      uint64     `json:"messages"`       // counted in the window
	All           uint64     `json:"all"`            // messages moved over the whole run
	Bytes         uint64     `json:"bytes"`
	SessionMin    uint64     `json:"session_min"` // fewest messages of one session in the window
	SessionMax    uint64     `json:"session_max"`
	CPU           float64    `json:"cpu_s"` // process CPU time from start to end of the window
}

// maxErrorSamples bounds the distinct error messages kept.
const maxErrorSamples = 5

// worker runs one process's sessions.
type worker struct {
	sh   share
	cfg  *Config
	dial func(ctx context.Context, i int, url, transport string) (bytesocket.Socket, error)

	mu       sync.Mutex // guards part's counts and samples
	part     Partial
	messages atomic.Uint64
	bytes    atomic.Uint64
	all      atomic.Uint64 // messages moved at any time
}

func newWorker(sh share) *worker {
	w := &worker{sh: sh, cfg: &sh.Config}
	w.part.Dial, w.part.Latency = NewHistogram(), NewHistogram()
	w.part.SessionMin = ^uint64(0)
	if sh.Config.Target == "ferry" {
		w.dial = ferryDialer(sh.Config.ShareHTTP, sh.Sources, sh.Sessions)
	} else {
		d := lookupTarget(sh.Config.Target)
		w.dial = func(ctx context.Context, _ int, url, transport string) (bytesocket.Socket, error) {
			return d(ctx, url, transport)
		}
	}
	return w
}

// fail counts one failed session and keeps a sample of its error.
func (w *worker) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part.Errors++
	w.sample(err)
}

func (w *worker) sample(err error) {
	msg := err.Error()
	if len(w.part.ErrorSamples) < maxErrorSamples && !containsString(w.part.ErrorSamples, msg) {
		w.part.ErrorSamples = append(w.part.ErrorSamples, msg)
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// counted adds one session's messages in the window.
func (w *worker) counted(msgs, nbytes uint64) {
	w.messages.Add(msgs)
	w.bytes.Add(nbytes)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part.SessionMin = min(w.part.SessionMin, msgs)
	w.part.SessionMax = max(w.part.SessionMax, msgs)
}

// work opens the share's sessions, calls ready, waits for the start time,
// runs the mode over the window and closes the sessions.
func work(ctx context.Context, sh share, ready func(readyInfo), start <-chan time.Time) (*Partial, error) {
	w := newWorker(sh)
	socks := w.dialAll(ctx)
	ready(readyInfo{Open: len(socks), DialErrors: w.part.DialErrors})
	var t0 time.Time
	select {
	case t0 = <-start:
	case <-ctx.Done():
		w.closeAll(socks)
		return nil, ctx.Err()
	}
	win := newWindow(t0, w.cfg)
	cpu0 := cpuTime()
	if d := time.Until(t0); d > 0 {
		sleepCtx(ctx, d)
	}
	var wg sync.WaitGroup
	for _, s := range socks {
		wg.Go(func() { w.run(ctx, s, win) })
	}
	wg.Wait()
	w.part.CPU = (cpuTime() - cpu0).Seconds()
	w.closeAll(socks)
	w.part.Open = len(socks)
	w.part.Messages, w.part.Bytes, w.part.All = w.messages.Load(), w.bytes.Load(), w.all.Load()
	if w.part.SessionMin > w.part.SessionMax {
		w.part.SessionMin = 0
	}
	return &w.part, nil
}

// dialAll opens the share's sessions, DialConcurrency at a time, within
// DialTimeout.
func (w *worker) dialAll(ctx context.Context) []bytesocket.Socket {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.DialTimeout)
	defer cancel()
	socks := make([]bytesocket.Socket, w.sh.Sessions)
	sem := make(chan struct{}, w.cfg.DialConcurrency)
	var wg sync.WaitGroup
	for i := range socks {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			w.mu.Lock()
			w.part.DialErrors += len(socks) - i
			w.sample(fmt.Errorf("dial: %w", ctx.Err()))
			w.mu.Unlock()
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			t := time.Now()
			s, err := w.dial(ctx, w.sh.First+i, w.cfg.URL, w.cfg.Transport)
			w.part.Dial.Record(time.Since(t))
			if err != nil {
				w.mu.Lock()
				w.part.DialErrors++
				w.sample(fmt.Errorf("dial: %w", err))
				w.mu.Unlock()
				return
			}
			socks[i] = s
		})
	}
	wg.Wait()
	open := socks[:0]
	for _, s := range socks {
		if s != nil {
			open = append(open, s)
		}
	}
	return open
}

// run drives one session over the window.
func (w *worker) run(ctx context.Context, s bytesocket.Socket, win window) {
	switch w.cfg.Mode {
	case ModeEcho:
		w.echo(ctx, s, win)
	case ModeDown:
		w.down(ctx, s, win)
	case ModeUp:
		w.up(ctx, s, win)
	case ModeBroadcast:
		w.subscribe(ctx, s, win)
	case ModeHold:
		w.hold(ctx, s, win)
	}
}

// payload returns a message of size bytes.
func payload(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}

// echo runs closed-loop round trips, Inflight at a time, and records the
// latency of those that start and end within the window.
func (w *worker) echo(ctx context.Context, s bytesocket.Socket, win window) {
	ctx, cancel := context.WithDeadline(ctx, win.end.Add(drainTime))
	defer cancel()
	msg := payload(w.cfg.Size)
	tokens := make(chan struct{}, w.cfg.Inflight)
	sent := make(chan time.Time, w.cfg.Inflight)
	var werr error
	go func() {
		defer close(sent)
		for {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			t := time.Now()
			if !t.Before(win.end) {
				return
			}
			sent <- t
			if err := s.Write(ctx, bytesocket.Binary, msg); err != nil {
				werr = fmt.Errorf("echo write: %w", err)
				cancel()
				return
			}
		}
	}()
	var n uint64
	var rerr error
	for t0 := range sent {
		typ, p, err := s.Read(ctx)
		now := time.Now()
		if err != nil {
			rerr = fmt.Errorf("echo read: %w", err)
			break
		}
		if typ != bytesocket.Binary || !bytes.Equal(p, msg) {
			rerr = fmt.Errorf("echo: got %v of %d bytes, want the %d bytes sent", typ, len(p), len(msg))
			break
		}
		<-tokens
		w.all.Add(1)
		if !t0.Before(win.warm) && now.Before(win.end) {
			w.part.Latency.Record(now.Sub(t0))
			n++
		}
	}
	cancel()
	for range sent { // the writer has stopped once sent is closed
	}
	if werr != nil && rerr == nil {
		rerr = werr
	}
	if rerr != nil {
		w.fail(rerr)
	}
	w.counted(n, n*uint64(len(msg)))
}

// down asks the bench service for batches of messages, two batches
// ahead, and counts what arrives within the window. After the window it
// asks for no more and reads what is owed, so that the session closes on
// a quiet stream.
func (w *worker) down(ctx context.Context, s bytesocket.Socket, win window) {
	ctx, cancel := context.WithDeadline(ctx, win.end.Add(drainTime))
	defer cancel()
	cmd := []byte(fmt.Sprintf("down %d %d", downBatch(w.cfg.Size), w.cfg.Size))
	owed := 0
	for range 2 {
		if err := s.Write(ctx, bytesocket.Text, cmd); err != nil {
			w.fail(fmt.Errorf("down: %w", err))
			return
		}
		owed++
	}
	var n, nb uint64
	for owed > 0 {
		typ, p, err := s.Read(ctx)
		now := time.Now()
		if err != nil {
			w.fail(fmt.Errorf("down read: %w", err))
			break
		}
		if typ == bytesocket.Text && string(p) == "done" {
			owed--
			if now.Before(win.end) {
				if err := s.Write(ctx, bytesocket.Text, cmd); err != nil {
					w.fail(fmt.Errorf("down: %w", err))
					break
				}
				owed++
			}
			continue
		}
		if typ != bytesocket.Binary || len(p) != w.cfg.Size {
			w.fail(fmt.Errorf("down: got %v of %d bytes, want binary of %d (is -url a bench service?)", typ, len(p), w.cfg.Size))
			break
		}
		w.all.Add(1)
		if win.in(now) {
			n++
			nb += uint64(len(p))
		}
	}
	w.counted(n, nb)
}

// downBatch is the COUNT of one "down" command: about 256 KiB of
// messages, from 16 to 4096 of them.
func downBatch(size int) int {
	return min(max((256<<10)/max(size, 1), 16), 4096)
}

// up sends as fast as Write returns, then checks the bench service's
// count. Writes are not given the window's end as a deadline: a Write
// cut short by its context may leave a plain WebSocket unusable.
func (w *worker) up(ctx context.Context, s bytesocket.Socket, win window) {
	ctx, cancel := context.WithDeadline(ctx, win.end.Add(drainTime))
	defer cancel()
	if err := s.Write(ctx, bytesocket.Text, []byte("up")); err != nil {
		w.fail(fmt.Errorf("up: %w", err))
		return
	}
	msg := payload(w.cfg.Size)
	var sent, n uint64
	for {
		t := time.Now()
		if !t.Before(win.end) {
			break
		}
		if err := s.Write(ctx, bytesocket.Binary, msg); err != nil {
			w.fail(fmt.Errorf("up write: %w", err))
			return
		}
		sent++
		if win.in(t) && win.in(time.Now()) {
			n++
		}
	}
	if err := s.Write(ctx, bytesocket.Text, []byte("end")); err != nil {
		w.fail(fmt.Errorf("up end: %w", err))
		return
	}
	for {
		typ, p, err := s.Read(ctx)
		if err != nil {
			w.fail(fmt.Errorf("up: waiting for the count: %w", err))
			return
		}
		if got, ok := strings.CutPrefix(string(p), "got "); ok && typ == bytesocket.Text {
			if c, err := strconv.ParseUint(got, 10, 64); err != nil || c != sent {
				w.fail(fmt.Errorf("up: the server counted %q, %d were sent", got, sent))
				return
			}
			w.all.Add(sent)
			break
		}
	}
	w.counted(n, n*uint64(len(msg)))
}

// timestampBytes is the length of a broadcast message's timestamp; the
// byte after it is fenceMark in the publisher's last message.
func timestampBytes(text bool) int {
	if text {
		return 20
	}
	return 8
}

// fenceMark follows the timestamp of the publisher's last message.
const fenceMark = '!'

// stampMessage writes t into the start of p: 8 bytes big-endian UnixNano,
// or 20 decimal digits.
func stampMessage(p []byte, t time.Time, text bool) {
	if text {
		copy(p, fmt.Sprintf("%020d", t.UnixNano()))
		return
	}
	binary.BigEndian.PutUint64(p, uint64(t.UnixNano()))
}

// readStamp reads the timestamp stampMessage wrote.
func readStamp(p []byte, text bool) (time.Time, bool) {
	if len(p) <= timestampBytes(text) {
		return time.Time{}, false
	}
	if text {
		ns, err := strconv.ParseInt(string(p[:20]), 10, 64)
		return time.Unix(0, ns), err == nil
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(p))), true
}

// subscribe counts the broadcast messages published within the window
// and records their delivery latency. It stops at the publisher's fence,
// sent once every other message was published, or after tailTime.
func (w *worker) subscribe(ctx context.Context, s bytesocket.Socket, win window) {
	rctx, cancel := context.WithDeadline(ctx, win.end.Add(tailTime))
	defer cancel()
	var n, nb uint64
	for {
		_, p, err := s.Read(rctx)
		now := time.Now()
		if err != nil {
			if rctx.Err() == nil {
				w.fail(fmt.Errorf("broadcast read: %w", err))
			} else {
				w.mu.Lock()
				w.part.NoFence++
				w.mu.Unlock()
			}
			break
		}
		sent, ok := readStamp(p, w.cfg.TextTimestamps)
		if !ok {
			w.fail(fmt.Errorf("broadcast: a %d-byte message without a timestamp", len(p)))
			break
		}
		if p[timestampBytes(w.cfg.TextTimestamps)] == fenceMark {
			break
		}
		w.all.Add(1)
		if win.in(sent) {
			w.part.Latency.Record(now.Sub(sent))
			n++
			nb += uint64(len(p))
		}
	}
	w.counted(n, nb)
}

// hold keeps the session open and idle until the window ends.
func (w *worker) hold(ctx context.Context, s bytesocket.Socket, win window) {
	rctx, cancel := context.WithDeadline(ctx, win.end)
	defer cancel()
	for {
		if _, _, err := s.Read(rctx); err != nil {
			if rctx.Err() == nil {
				w.fail(fmt.Errorf("hold read: %w", err))
			}
			return
		}
	}
}

// closeAll closes every session with 1000 and waits, up to closeTime, for
// the sessions that tell when their closing handshake is done (Ferry's
// client: Done).
func (w *worker) closeAll(socks []bytesocket.Socket) {
	var wg sync.WaitGroup
	var late atomic.Int64
	stop := make(chan struct{})
	timer := time.AfterFunc(closeTime, func() { close(stop) })
	defer timer.Stop()
	for _, s := range socks {
		wg.Go(func() {
			_ = s.Close(bytesocket.StatusNormalClosure, "ferry-bench done") // fails if the server closed first
			d, ok := s.(interface{ Done() <-chan struct{} })
			if !ok {
				return
			}
			select {
			case <-d.Done():
			case <-stop:
				late.Add(1)
			}
		})
	}
	wg.Wait()
	w.part.CloseTimeouts = int(late.Load())
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
