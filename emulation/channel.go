package emulation

import (
	"context"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

// Channel is one end of a reliable message stream: it numbers outbound
// frames, retains them until the peer acknowledges them, and delivers
// inbound frames exactly once, in order, whatever carrier brought them.
type Channel struct {
	cfg Config

	upSem chan struct{} // serializes Deliver

	mu     sync.Mutex    // guards everything below
	wake   chan struct{} // closed on the next state change; nil until someone waits
	wakeIn chan struct{} // the same, but not closed by new outbound frames

	out      fifo[wire.Frame] // retained outbound frames, ascending contiguous Seq
	sent     uint64           // highest outbound Seq assigned
	acked    uint64           // highest outbound Seq the peer acknowledged
	outBytes int

	recv     uint64 // highest inbound Seq delivered to inq
	consumed uint64 // highest inbound Seq the application has read
	readSum  uint64 // payload bytes the application has read, in all
	inq      fifo[inItem]
	inBytes  int

	leg *Leg // current carrier, or nil

	localClosed bool
	closeSeq    uint64                 // Seq of our close frame
	remoteClose *bytesocket.CloseError // the peer's close, once received
	inEnded     bool                   // a close or an abort is queued: later inbound frames are ignored
	endSeen     bool                   // the application has read that close or abort
	appErr      error                  // terminal error for Read/Write
	finished    bool
	done        chan struct{}
	onFinish    func()

	counters *Counters // nil: not counted; set before first use
}

type inItem struct {
	seq   uint64
	typ   bytesocket.MessageType
	data  []byte
	close *bytesocket.CloseError // the end of the stream: the peer's close, or an abort
	abort bool                   // close is an abort (a protocol error), not the peer's
}

// NewChannel returns an open channel with cfg's limits (defaults applied).
func NewChannel(cfg Config) *Channel {
	return &Channel{
		cfg:   cfg.WithDefaults(),
		upSem: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
}

// changed wakes every waiter. c.mu must be held.
func (c *Channel) changed() {
	wake(&c.wake)
	wake(&c.wakeIn)
}

// changedOut wakes only the waiters that outbound frames concern (legs,
// writers waiting for room): a new outbound frame is the hot path of a
// broadcast, and readers need not wake for it. c.mu held.
func (c *Channel) changedOut() { wake(&c.wake) }

// wake closes *ch, if someone made it, for its waiters.
func wake(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// waitChan returns the channel that the next change closes, made on
// demand: changes with nobody waiting cost nothing. c.mu held.
func (c *Channel) waitChan() chan struct{} { return lazyChan(&c.wake) }

func lazyChan(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return *ch
}

// wait releases c.mu until the state changes or ctx ends, then re-takes it.
func (c *Channel) wait(ctx context.Context) error { return c.waitOn(ctx, c.waitChan()) }

// waitIn is wait for the inbound side: new outbound frames don't end it.
func (c *Channel) waitIn(ctx context.Context) error { return c.waitOn(ctx, lazyChan(&c.wakeIn)) }

func (c *Channel) waitOn(ctx context.Context, w chan struct{}) error {
	c.mu.Unlock()
	defer c.mu.Lock()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the channel has finished: both closes exchanged and
// acknowledged, or failed.
func (c *Channel) Done() <-chan struct{} { return c.done }

// Write queues one message for the peer, waiting while the retention
// window is full. See bytesocket.Socket.
func (c *Channel) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	if err := c.checkMessage(typ, p); err != nil {
		return err
	}
	data := append([]byte(nil), p...)
	return c.WriteFrame(ctx, wire.Frame{Kind: wire.KindOf(typ), Data: data})
}

func (c *Channel) checkMessage(typ bytesocket.MessageType, p []byte) error {
	if typ != bytesocket.Text && typ != bytesocket.Binary {
		return fmt.Errorf("emulation: unknown message type %d", typ)
	}
	if len(p) > c.cfg.MaxMessageBytes {
		return bytesocket.ErrMessageTooBig
	}
	if typ == bytesocket.Text && !utf8.Valid(p) {
		return bytesocket.ErrInvalidUTF8
	}
	return nil
}

// WriteFrame queues a text or binary frame whose Data the caller will not
// modify again (so it can be shared, as a broadcast does). Seq is assigned.
func (c *Channel) WriteFrame(ctx context.Context, f wire.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if err := c.writeErr(); err != nil {
			return err
		}
		if c.hasRoom(frameSize(&f)) {
			c.push(f)
			c.counters.Out(len(f.Data))
			return nil
		}
		if err := c.wait(ctx); err != nil {
			return err
		}
	}
}

// TryWriteFrames queues frames as WriteFrame does, in order and with one
// wake-up of the carrier, but never waits: when the retention window is
// full it still admits up to slack more frames (each counted against the
// byte limit at the size of the largest frame), and beyond that it
// returns false having queued only the frames before. A broadcast uses it
// to fan messages out without a goroutine per subscriber.
func (c *Channel) TryWriteFrames(frames []wire.Frame, slack int) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writeErr(); err != nil {
		return false, err
	}
	pushed := false
	defer func() {
		if pushed {
			c.changedOut()
		}
	}()
	for _, f := range frames {
		n := frameSize(&f)
		if !c.hasRoom(n) && (c.out.len() >= c.cfg.WindowMessages+slack ||
			c.outBytes+n > c.cfg.WindowBytes+slack*max(n, 1)) {
			return false, nil
		}
		c.append(f)
		c.counters.Out(len(f.Data))
		pushed = true
	}
	return true, nil
}

func (c *Channel) writeErr() error {
	switch {
	case c.remoteClose != nil && c.endSeen:
		return *c.remoteClose
	case c.appErr != nil:
		return c.appErr
	case c.localClosed || c.finished:
		return bytesocket.ErrClosed("write")
	}
	return nil
}

// frameSize is what a frame counts against the retention window: its
// payload.
func frameSize(f *wire.Frame) int { return len(f.Data) }

func (c *Channel) hasRoom(n int) bool {
	if c.out.len() == 0 {
		return true
	}
	return c.outBytes+n <= c.cfg.WindowBytes && c.out.len() < c.cfg.WindowMessages
}

// push appends f as the next outbound frame and wakes the carrier. c.mu
// must be held.
func (c *Channel) push(f wire.Frame) {
	c.append(f)
	c.changedOut()
}

// append appends f as the next outbound frame. c.mu must be held.
func (c *Channel) append(f wire.Frame) {
	c.sent++
	f.Seq = c.sent
	c.out.push(f)
	c.outBytes += frameSize(&f)
}

// Close sends a close frame with code and reason. See bytesocket.Socket.
func (c *Channel) Close(code bytesocket.StatusCode, reason string) error {
	if len(reason) > bytesocket.MaxReasonBytes {
		return bytesocket.ErrReasonTooLong
	}
	if !code.Sendable() {
		return fmt.Errorf("emulation: close code %d may not be sent", code)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.localClosed || c.finished {
		return bytesocket.ErrClosed("close")
	}
	c.sendClose(code, reason)
	c.checkFinish()
	return nil
}

// sendClose queues our close frame, bypassing the window. c.mu held.
func (c *Channel) sendClose(code bytesocket.StatusCode, reason string) {
	c.localClosed = true
	c.push(wire.Frame{Kind: wire.KindClose, Code: code, Data: []byte(reason)})
	c.closeSeq = c.sent
}

// Abort closes the channel because of a protocol error in what the peer
// sent: the messages received before it are still delivered, and once the
// application has read them, Read reports a CloseError with code and
// reason, the peer gets a close frame with the same, and Write fails.
// Later inbound frames are ignored.
func (c *Channel) Abort(code bytesocket.StatusCode, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.abortLocked(code, reason)
}

// Fail ends the channel at once, without a close handshake: Read and Write
// report ce (unless a close was already received).
func (c *Channel) Fail(ce bytesocket.CloseError) {
	c.mu.Lock()
	if c.appErr == nil && c.remoteClose == nil {
		c.appErr = ce
	}
	fn := c.finish()
	c.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// finish marks the channel done and returns the finish hook to run after
// c.mu is released (nil if already finished).
func (c *Channel) finish() func() {
	if c.finished {
		return nil
	}
	c.finished = true
	c.counters.Close(c.closeCode())
	c.out.reset()
	c.outBytes = 0
	close(c.done)
	c.changed()
	fn := c.onFinish
	if fn == nil {
		fn = func() {}
	}
	return fn
}

// checkFinish finishes the channel once both closes are exchanged and ours
// is acknowledged. c.mu held; the hook runs in its own goroutine.
func (c *Channel) checkFinish() {
	if c.localClosed && c.remoteClose != nil && c.acked >= c.closeSeq {
		if fn := c.finish(); fn != nil {
			go fn()
		}
	}
}

// Ack records that the peer has received every outbound frame up to n.
func (c *Channel) Ack(n uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ack(n)
}

func (c *Channel) ack(n uint64) error {
	if n > c.sent {
		return ErrAckAhead
	}
	if n <= c.acked {
		return nil
	}
	c.acked = n
	out := c.out.items()
	k := 0
	for k < len(out) && out[k].Seq <= n {
		c.outBytes -= frameSize(&out[k])
		k++
	}
	c.out.pop(k)
	c.changed()
	c.checkFinish()
	return nil
}

// Received returns the highest inbound sequence number delivered.
func (c *Channel) Received() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recv
}

// Sent returns the highest outbound sequence number assigned.
func (c *Channel) Sent() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// Unacked returns the payload bytes sent but not yet acknowledged.
func (c *Channel) Unacked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outBytes
}

// Pending returns the number of outbound frames retained (sent but not
// acknowledged).
func (c *Channel) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.len()
}

// Acked returns the highest outbound sequence number acknowledged.
func (c *Channel) Acked() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked
}
