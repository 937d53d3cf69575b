package emulation

import (
	"context"
	"fmt"

	"github.com/ferrygw/ferry/bytesocket"
)

// Deliver hands inbound frames numbered first, first+1, ... to the
// application, skipping those already delivered, and returns the highest
// number delivered. It waits while the inbound queue is full. A first
// beyond Received()+1 is ErrSeqGap; nothing is delivered then. On a
// finished channel only a retry of frames already delivered succeeds:
// the retry of a client's close frame whose answer was lost may carry the
// acknowledgement that finished the session.
func (c *Channel) Deliver(ctx context.Context, first uint64, frames []Frame) (uint64, error) {
	select {
	case c.upSem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-c.upSem }()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		if first >= 1 && first+uint64(len(frames)) <= c.recv+1 {
			return c.recv, nil
		}
		return c.recv, ErrSessionDone
	}
	if first == 0 || first > c.recv+1 {
		return c.recv, fmt.Errorf("%w, expected at most %d", ErrSeqGap, c.recv+1)
	}
	for i := c.recv + 1 - first; i < uint64(len(frames)); i++ {
		if err := c.deliverOne(ctx, frames[i]); err != nil {
			return c.recv, err
		}
	}
	return c.recv, nil
}

// deliverOne queues one frame. c.mu held.
func (c *Channel) deliverOne(ctx context.Context, f Frame) error {
	if c.remoteClose != nil {
		c.recv++ // frames after a close are numbered but ignored
		return nil
	}
	if f.Kind == KindClose {
		c.receiveClose(f)
		return nil
	}
	if len(f.Data) > c.cfg.MaxMessageBytes {
		c.abortLocked(bytesocket.StatusMessageTooBig, "message too big")
		return bytesocket.ErrMessageTooBig
	}
	for c.inBytes > 0 && c.inBytes+len(f.Data) > c.cfg.InboundBytes {
		if err := c.waitIn(ctx); err != nil {
			return err
		}
		if c.finished || c.appErr != nil {
			return ErrSessionDone
		}
	}
	c.recv++
	c.inq.push(inItem{seq: c.recv, typ: f.MessageType(), data: f.Data})
	c.inBytes += len(f.Data)
	c.changed()
	return nil
}

// receiveClose records the peer's close and echoes it. c.mu held.
func (c *Channel) receiveClose(f Frame) {
	c.recv++
	ce := bytesocket.CloseError{Code: f.Code, Reason: string(f.Data)}
	c.remoteClose = &ce
	c.inq.push(inItem{seq: c.recv, close: &ce})
	if !c.localClosed && !c.finished {
		c.sendClose(f.Code, string(f.Data))
	}
	c.changed()
	c.checkFinish()
}

func (c *Channel) abortLocked(code bytesocket.StatusCode, reason string) {
	if c.appErr == nil {
		c.appErr = bytesocket.CloseError{Code: code, Reason: reason}
	}
	if !c.localClosed && !c.finished {
		c.sendClose(code, reason)
	}
	c.changed()
}

// Read returns the next inbound message. See bytesocket.Socket.
func (c *Channel) Read(ctx context.Context) (bytesocket.MessageType, []byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.localClosed && c.remoteClose == nil && c.appErr == nil {
			return 0, nil, bytesocket.ErrClosed("read")
		}
		if c.inq.len() > 0 {
			it := c.inq.items()[0]
			c.consumed = max(c.consumed, it.seq)
			if it.close != nil {
				return 0, nil, *it.close // stays at the head: reported again
			}
			c.inq.pop(1)
			c.inBytes -= len(it.data)
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
