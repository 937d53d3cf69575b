package emulation

import (
	"context"
	"fmt"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

// MessageOverhead is what each inbound message costs against
// Config.InboundBytes besides its payload (PROTOCOL.md §7): the queue
// entry that holds it. It keeps a stream of empty messages from growing
// the queue without bound.
const MessageOverhead = 64

// inCost is what a message of n payload bytes counts in the inbound queue.
func inCost(n int) int { return n + MessageOverhead }

// Deliver hands inbound frames numbered first, first+1, ... to the
// application, skipping those already delivered, and returns the highest
// number delivered. It waits while the inbound queue is full. A first
// beyond Received()+1 is ErrSeqGap; nothing is delivered then. On a
// finished channel only a retry of frames already delivered succeeds:
// the retry of a client's close frame whose answer was lost may carry the
// acknowledgement that finished the session.
func (c *Channel) Deliver(ctx context.Context, first uint64, frames []wire.Frame) (uint64, error) {
	i := 0
	return c.DeliverEach(ctx, first, func() (wire.Frame, bool, error) {
		if i == len(frames) {
			return wire.Frame{}, false, nil
		}
		i++
		return frames[i-1], true, nil
	})
}

// DeliverEach is Deliver for frames produced one at a time by next, which
// returns the next frame, or false at the end with the error that ended
// the frames (nil at a clean end). It is called without locks held, so it
// may read the frames from the network: a large batch is delivered as it
// is parsed instead of being built whole first. The error next returns
// ends the delivery and is returned, after the frames before it.
func (c *Channel) DeliverEach(ctx context.Context, first uint64, next func() (wire.Frame, bool, error)) (uint64, error) {
	select {
	case c.upSem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-c.upSem }()
	if r := c.Received(); first == 0 || first > r+1 {
		if c.isFinished() {
			return r, ErrSessionDone
		}
		return r, fmt.Errorf("%w, expected at most %d", ErrSeqGap, r+1)
	}
	for seq := first; ; seq++ {
		f, ok, err := next()
		if !ok {
			return c.Received(), err
		}
		if recv, err := c.deliverSeq(ctx, seq, f, true); err != nil {
			return recv, err
		}
	}
}

// DeliverNow delivers frame number seq as Deliver does, except that it
// never waits for room in the inbound queue: a reader that acknowledgements
// arrive through (a Ferry WebSocket) must not stop. The peer keeps within
// its credit (PROTOCOL.md §6); a frame that would take the queue past
// twice InboundBytes (what a peer within credit on this path and a POST
// on another could reach) is an overrun: the channel is aborted with 1008
// and ErrCreditExceeded returned.
func (c *Channel) DeliverNow(ctx context.Context, seq uint64, f wire.Frame) (uint64, error) {
	select {
	case c.upSem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-c.upSem }()
	return c.deliverSeq(ctx, seq, f, false)
}

// deliverSeq delivers frame number seq unless the channel has it already.
func (c *Channel) deliverSeq(ctx context.Context, seq uint64, f wire.Frame, wait bool) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case seq <= c.recv:
		return c.recv, nil // a retried frame: delivered already
	case c.finished:
		return c.recv, ErrSessionDone
	case seq > c.recv+1: // seq follows a frame that was not delivered
		return c.recv, fmt.Errorf("%w, expected at most %d", ErrSeqGap, c.recv+1)
	}
	return c.recv, c.deliverOne(ctx, f, wait)
}

// deliverOne queues one frame, waiting for room if wait is set. c.mu held.
func (c *Channel) deliverOne(ctx context.Context, f wire.Frame, wait bool) error {
	if c.inEnded {
		c.recv++ // frames after a close or an abort are numbered but ignored
		if f.Kind == wire.KindClose && c.remoteClose == nil {
			// The peer's answer to an abort: it completes the handshake.
			c.remoteClose = &bytesocket.CloseError{Code: f.Code, Reason: string(f.Data)}
			c.checkFinish()
		}
		return nil
	}
	if f.Kind == wire.KindClose {
		c.receiveClose(f)
		return nil
	}
	if len(f.Data) > c.cfg.MaxMessageBytes {
		c.abortLocked(bytesocket.StatusMessageTooBig, "message too big")
		return bytesocket.ErrMessageTooBig
	}
	cost := inCost(len(f.Data))
	if !wait && c.inBytes > 0 && c.inBytes+cost > 2*c.cfg.InboundBytes {
		c.abortLocked(bytesocket.StatusPolicyViolation, "inbound credit exceeded")
		return ErrCreditExceeded
	}
	for wait && c.inBytes > 0 && c.inBytes+cost > c.cfg.InboundBytes {
		if err := c.waitIn(ctx); err != nil {
			return err
		}
		if c.finished || c.appErr != nil {
			return ErrSessionDone
		}
	}
	c.recv++
	c.inq.push(inItem{seq: c.recv, typ: f.MessageType(), data: f.Data})
	c.inBytes += cost
	c.changed()
	return nil
}

// receiveClose queues the peer's close behind the messages before it. It
// is answered when the application reads it (see endRead), as a native
// WebSocket server reads a message, answers it, and then meets the close:
// replies to the messages before a close still reach the peer. c.mu held.
func (c *Channel) receiveClose(f wire.Frame) {
	c.recv++
	ce := bytesocket.CloseError{Code: f.Code, Reason: string(f.Data)}
	c.remoteClose = &ce
	c.inEnded = true
	c.inq.push(inItem{seq: c.recv, close: &ce})
	c.changed()
	c.checkFinish()
}

// abortLocked ends the inbound stream for a protocol error: after the
// messages already queued, the application reads the CloseError, and our
// close frame with code and reason then goes to the peer. c.mu held.
func (c *Channel) abortLocked(code bytesocket.StatusCode, reason string) {
	if c.inEnded || c.finished {
		return
	}
	c.inEnded = true
	c.inq.push(inItem{seq: c.recv, close: &bytesocket.CloseError{Code: code, Reason: reason}, abort: true})
	c.changed()
}

// endRead is the application reading the end of the inbound stream, it:
// the peer's close is answered with the same code and reason, an abort
// sends its close, unless the application closed first. c.mu held.
func (c *Channel) endRead(it inItem) {
	if c.endSeen {
		return
	}
	c.endSeen = true
	if it.abort && c.appErr == nil {
		c.appErr = *it.close
	}
	if !c.localClosed && !c.finished {
		c.sendClose(it.close.Code, it.close.Reason)
	}
	c.checkFinish()
}

// Read returns the next inbound message. See bytesocket.Socket.
func (c *Channel) Read(ctx context.Context) (bytesocket.MessageType, []byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.localClosed && !c.inEnded && c.appErr == nil {
			return 0, nil, bytesocket.ErrClosed("read")
		}
		if c.inq.len() > 0 {
			it := c.inq.items()[0]
			c.consumed = max(c.consumed, it.seq)
			if it.close != nil {
				c.endRead(it)
				return 0, nil, *it.close // stays at the head: reported again
			}
			c.inq.pop(1)
			c.inBytes -= inCost(len(it.data))
			c.readSum += uint64(len(it.data))
			c.changed()
			c.counters.In(len(it.data))
			return it.typ, it.data, nil
		}
		if c.appErr != nil {
			return 0, nil, c.appErr
		}
		if c.finished {
			return 0, nil, bytesocket.CloseError{Code: bytesocket.StatusAbnormalClosure}
		}
		if err := c.waitIn(ctx); err != nil {
			return 0, nil, err
		}
	}
}

func (c *Channel) isFinished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.finished
}
