package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// Conn is a resumable client session. It implements bytesocket.Socket;
// Read, Write and Close follow that interface's rules.
type Conn struct {
	*emulation.Channel
	base   *url.URL
	o      *Options
	info   wire.OpenInfo
	header http.Header

	transport atomic.Value // string
	carriers  atomic.Int64 // carriers attached so far
	ctx       context.Context
	cancel    context.CancelFunc

	mu        sync.Mutex         // guards dropCur and interrupt
	dropCur   context.CancelFunc // ends the current carrier
	interrupt bool               // drop the next carrier at once

	evFrames []wire.Frame // handleEvent's scratch (one carrier at a time)
}

var _ bytesocket.Socket = (*Conn)(nil)

func newConn(base *url.URL, o *Options, info wire.OpenInfo, header http.Header) *Conn {
	ch := emulation.NewChannel(emulation.Config{
		MaxMessageBytes: info.MaxMessage,
		WindowBytes:     info.WindowBytes,
		InboundBytes:    info.WindowBytes, // all the server may send unacknowledged
	})
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{Channel: ch, base: base, o: o, info: info, header: header, ctx: ctx, cancel: cancel}
	c.transport.Store(o.Transport)
	return c
}

// Subprotocol returns the negotiated subprotocol.
func (c *Conn) Subprotocol() string { return c.info.Protocol }

// Transport returns the current carrier's name.
func (c *Conn) Transport() string { return c.transport.Load().(string) }

// RemoteAddr returns the server's host as an address.
func (c *Conn) RemoteAddr() net.Addr { return hostAddr(c.base.Host) }

// Header returns the headers the client sends.
func (c *Conn) Header() http.Header { return c.header }

// SessionID returns the session id.
func (c *Conn) SessionID() string { return c.info.Session }

// Resumes returns how many times the session was resumed on a new
// carrier after the first.
func (c *Conn) Resumes() int { return int(max(c.carriers.Load()-1, 0)) }

// attached records a carrier as current.
func (c *Conn) attached(t string) {
	c.transport.Store(t)
	c.carriers.Add(1)
}

// Interrupt drops the current carrier, as a network fault would; the
// session resumes on the next transport in Options.Resume. It is meant for
// tests and fault drills.
func (c *Conn) Interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropCur != nil {
		c.dropCur()
	} else {
		c.interrupt = true // no carrier yet: drop the first one
	}
}

type hostAddr string

func (a hostAddr) Network() string { return "tcp" }
func (a hostAddr) String() string  { return string(a) }

// ackPolicy is PROTOCOL.md section 7's rule for pure acknowledgements:
// after a quarter of the server's window (bytes or messages) is read, or
// one second after the first unacknowledged frame; acknowledgements ride
// along with data at once.
func (c *Conn) ackPolicy() emulation.AckPolicy {
	msgs := c.info.WindowMsgs
	if msgs <= 0 { // a server that does not say: the protocol's default
		msgs = emulation.DefaultWindowMessages
	}
	return emulation.AckPolicy{Frames: max(msgs/4, 1), Bytes: int(c.info.WindowBytes / 4), Delay: time.Second}
}

func (c *Conn) resumeTimeout() time.Duration {
	return time.Duration(c.info.ResumeMs) * time.Millisecond
}

func (c *Conn) heartbeat() time.Duration {
	return time.Duration(c.info.HeartbeatMs) * time.Millisecond
}

// carrierCtx returns a context for a new carrier, cancelled by Interrupt.
func (c *Conn) carrierCtx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(c.ctx)
	c.mu.Lock()
	c.dropCur = cancel
	if c.interrupt {
		c.interrupt = false
		defer cancel()
	}
	c.mu.Unlock()
	return ctx, cancel
}

// errFatal marks errors after which the session cannot resume.
type errFatal struct{ ce bytesocket.CloseError }

func (e errFatal) Error() string { return e.ce.Error() }

func fatalFor(err error) error {
	var se *StatusError
	if errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusGone) {
		return errFatal{bytesocket.CloseError{Code: bytesocket.StatusAbnormalClosure, Reason: se.Reason}}
	}
	if errors.Is(err, emulation.ErrAheadOfStream) || errors.Is(err, emulation.ErrOutsideWindow) {
		return errFatal{bytesocket.CloseError{Code: bytesocket.StatusAbnormalClosure, Reason: err.Error()}}
	}
	return err
}

// run keeps the session carried until it finishes or cannot resume. first
// is a WebSocket already opened by Dial, or nil.
func (c *Conn) run(first *websocket.Conn) {
	defer c.cancel()
	go func() {
		// Once the session is done, carriers end by themselves after
		// acknowledging the server's close; cut them off if they do not.
		select {
		case <-c.Done():
		case <-c.ctx.Done():
			return
		}
		t := time.NewTimer(2 * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
			c.cancel()
		case <-c.ctx.Done():
		}
	}()
	lost := time.Now()
	for i, attempt := 0, 0; ; i++ {
		t := c.o.Resume[i%len(c.o.Resume)]
		if i == 0 {
			t = c.o.Transport
		}
		ok, err := c.carry(t, first)
		first = nil
		if c.ctx.Err() != nil || c.isDone() {
			return
		}
		var fe errFatal
		if errors.As(fatalFor(err), &fe) {
			c.Fail(fe.ce)
			return
		}
		if ok {
			lost, attempt = time.Now(), 0
		}
		if time.Since(lost) > c.resumeTimeout() {
			c.Fail(bytesocket.CloseError{Code: bytesocket.StatusAbnormalClosure, Reason: "session lost"})
			return
		}
		c.o.Logger.Debug("carrier dropped", "transport", t, "err", c.redact(err))
		attempt++
		if !c.sleep(c.backoff(attempt)) {
			return
		}
	}
}

func (c *Conn) backoff(attempt int) time.Duration {
	d := 5 * time.Millisecond << min(attempt, 10)
	d = min(d, c.o.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

func (c *Conn) sleep(d time.Duration) bool { return sleepCtx(c.ctx, d) }

// redact shortens the session id in an error for logs: it is a credential.
func (c *Conn) redact(err error) string {
	if err == nil {
		return ""
	}
	sid := c.info.Session
	if len(sid) < 6 {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), sid, sid[:6]+"…")
}

func (c *Conn) isDone() bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// carry runs one carrier until it drops; ok reports whether it connected.
func (c *Conn) carry(t string, first *websocket.Conn) (ok bool, err error) {
	ctx, cancel := c.carrierCtx()
	defer cancel()
	if t == WebSocket {
		return c.carryWS(ctx, first)
	}
	return c.carryHTTP(ctx, t)
}
