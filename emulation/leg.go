package emulation

import (
	"context"
	"time"

	"github.com/ferrygw/ferry/wire"
)

// Leg is one carrier attached to a channel: a cursor into its retained
// outbound frames. Only the most recent attach is current; attaching again
// ends the previous leg, whose Next then returns ErrReplaced.
type Leg struct {
	c         *Channel
	transport string
	wantAcks  bool         // report inbound progress (wire.Batch.Ack) for in-band acks
	credit    int          // most unacknowledged inbound cost (inCost) in flight; 0: no limit
	maxFrames int          // most frames in one batch; 0: no limit
	timer     *time.Timer  // Next's wait; Next is called by one goroutine at a time
	frames    []wire.Frame // the last batch's array, reused by the next (Next only)

	// guarded by c.mu
	policy      AckPolicy
	cursor      uint64    // highest Seq handed out on this leg
	upAcked     uint64    // highest inbound Seq reported in a wire.Batch
	upAckedSum  uint64    // c.readSum when upAcked was reported
	ackDueAt    time.Time // a lazy ack is due then; zero: none pending
	replaced    bool
	closeWaited bool // waited once for the ack of our close frame
}

// SetCredit limits the leg to n bytes sent but not acknowledged, each
// frame counting its payload plus MessageOverhead, as the peer's inbound
// queue counts it (a single larger frame may go when nothing is in
// flight); 0 removes the limit. The Ferry WebSocket needs it: the peer acknowledges only what its
// application has read, so a sender within credit never fills the peer's
// inbound queue and the peer's reader never stops (PROTOCOL.md §6).
func (l *Leg) SetCredit(n int) {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	l.credit = n
}

// SetMaxFrames limits the frames in one batch, as an upstream POST must
// stay within the server's maxBodyFrames; 0 removes the limit.
func (l *Leg) SetMaxFrames(n int) {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	l.maxFrames = n
}

// AckPolicy delays pure acknowledgements on a leg that reports acks, as
// PROTOCOL.md section 7 recommends: an acknowledgement rides along with
// outgoing frames at once, but one with nothing to ride on waits until
// Frames frames or Bytes payload bytes are unacknowledged, or Delay has
// passed since the first of them was read. A zero policy acknowledges at
// once.
type AckPolicy struct {
	Frames int
	Bytes  int
	Delay  time.Duration
}

// lazy reports whether the policy delays acknowledgements.
func (p AckPolicy) lazy() bool { return p.Delay > 0 }

// SetAckPolicy sets how the leg's batches report inbound progress.
func (l *Leg) SetAckPolicy(p AckPolicy) {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	l.policy = p
	l.c.changed()
}

// Attach makes a new leg current, acknowledging every outbound frame up to
// last. It fails with ErrAheadOfStream if last was never sent and with
// ErrOutsideWindow if frames after last were already dropped. With
// wantAcks the leg's batches report inbound progress.
func (c *Channel) Attach(last uint64, transport string, wantAcks bool) (*Leg, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return nil, ErrSessionDone
	}
	if last > c.sent {
		return nil, ErrAheadOfStream
	}
	if last < c.acked {
		return nil, ErrOutsideWindow
	}
	if err := c.ack(last); err != nil {
		return nil, err
	}
	if c.leg != nil {
		c.leg.replaced = true
	}
	l := &Leg{c: c, transport: transport, wantAcks: wantAcks, cursor: last, upAcked: c.consumed, upAckedSum: c.readSum}
	c.leg = l
	c.changed()
	return l, nil
}

// Transport names the leg's carrier.
func (l *Leg) Transport() string { return l.transport }

// Detach ends the leg; if it is current, the channel has no leg until the
// next Attach.
func (l *Leg) Detach() {
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	l.replaced = true
	if c.leg == l {
		c.leg = nil
	}
	c.changed()
}

// Current reports whether the leg is still the channel's carrier.
func (l *Leg) Current() bool {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return !l.replaced
}

// Next waits up to wait for something to send and returns it: frames after
// the cursor, at most about maxBytes of payload (always at least one), and
// an inbound acknowledgement if the leg reports acks. An empty batch means
// the wait ran out. It returns ErrReplaced when a newer leg took over and
// ErrSessionDone when the channel has nothing more to send. A leg's Next
// must not be called from two goroutines at once. The batch's Frames are
// valid until the next call: their array is reused.
func (l *Leg) Next(ctx context.Context, wait time.Duration, maxBytes int) (wire.Batch, error) {
	c := l.c
	// One timer per leg, reset on every call: an idle carrier waits here
	// once per heartbeat, and a new timer each time is garbage.
	if l.timer == nil {
		l.timer = time.NewTimer(wait)
	} else {
		l.timer.Reset(wait)
	}
	timer := l.timer
	defer timer.Stop()
	// A delayed acknowledgement gets a timer of its own per call: reusing
	// one across calls (Reset) made a WebSocket echo four times slower.
	var ackTimer *time.Timer
	defer func() {
		if ackTimer != nil {
			ackTimer.Stop()
		}
	}()
	clear(l.frames) // the previous batch is done with: keep no payloads while waiting
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if l.replaced {
			return wire.Batch{}, ErrReplaced
		}
		b := l.take(maxBytes, time.Now())
		if !b.Empty() {
			return b, nil
		}
		if c.finished {
			return wire.Batch{}, ErrSessionDone
		}
		if c.closeDelivered(l) {
			// A carrier that brings acks in band stays up one more wait so
			// that the ack of our close frame can arrive on it.
			if !l.wantAcks || l.closeWaited {
				return wire.Batch{}, ErrSessionDone
			}
			l.closeWaited = true
		}
		var ackC <-chan time.Time
		if !l.ackDueAt.IsZero() {
			d := time.Until(l.ackDueAt)
			if ackTimer == nil {
				ackTimer = time.NewTimer(d)
			} else {
				ackTimer.Reset(d)
			}
			ackC = ackTimer.C
		}
		w := c.waitChan()
		c.mu.Unlock()
		select {
		case <-w:
		case <-ackC:
		case <-timer.C:
			c.mu.Lock()
			return wire.Batch{}, nil
		case <-ctx.Done():
			c.mu.Lock()
			return wire.Batch{}, ctx.Err()
		}
		c.mu.Lock()
	}
}

// closeDelivered reports whether both closes are exchanged and this leg has
// carried ours: the carrier has nothing more to do. c.mu held.
func (c *Channel) closeDelivered(l *Leg) bool {
	return c.localClosed && c.remoteClose != nil && l.cursor >= c.closeSeq
}

// take collects what the leg can send now. c.mu held.
func (l *Leg) take(maxBytes int, now time.Time) wire.Batch {
	c := l.c
	var b wire.Batch
	b.Frames, b.Skip = l.takeFrames(maxBytes)
	// Acknowledge what the application has read (the credit rule); once
	// the peer's close has arrived no data follows, so acknowledge all, or
	// a close would wait on an application that stopped reading.
	ack := c.consumed
	if c.remoteClose != nil {
		ack = c.recv
	}
	if !l.wantAcks || ack <= l.upAcked {
		return b
	}
	if len(b.Frames) == 0 && c.remoteClose == nil && l.policy.lazy() {
		p := l.policy
		due := (p.Frames > 0 && ack-l.upAcked >= uint64(p.Frames)) ||
			(p.Bytes > 0 && c.readSum-l.upAckedSum >= uint64(p.Bytes))
		if !due {
			if l.ackDueAt.IsZero() {
				l.ackDueAt = now.Add(p.Delay)
			}
			if now.Before(l.ackDueAt) {
				return b
			}
		}
	}
	l.upAcked = ack
	l.upAckedSum = c.readSum
	l.ackDueAt = time.Time{}
	b.Ack = ack
	return b
}

// legKeepFrames is the largest batch array a leg keeps for reuse (512
// bytes: an idle session must stay small).
const legKeepFrames = 8

// takeFrames collects the frames the leg can send now, and whether frames
// between the cursor and the first of them were acknowledged and dropped
// (see wire.Batch.Skip). c.mu held.
func (l *Leg) takeFrames(maxBytes int) ([]wire.Frame, bool) {
	c := l.c
	out := c.out.items()
	if len(out) == 0 || l.cursor >= c.sent {
		return nil, false
	}
	i := 0
	if first := out[0].Seq; l.cursor >= first {
		i = int(l.cursor - first + 1)
	}
	skip := i == 0 && out[0].Seq > l.cursor+1
	inflight := 0 // inbound cost at the peer of frames sent, then of the batch
	if l.credit > 0 {
		for k := range i {
			inflight += inCost(frameSize(&out[k]))
		}
	}
	n := 0
	j := i
	for j < len(out) && (j == i || n+frameSize(&out[j]) <= maxBytes) && (l.maxFrames == 0 || j-i < l.maxFrames) {
		cost := inCost(frameSize(&out[j]))
		if l.credit > 0 && inflight > 0 && inflight+cost > l.credit {
			break
		}
		inflight += cost
		n += frameSize(&out[j])
		j++
	}
	if j == i {
		return nil, false
	}
	frames := append(l.frames[:0], out[i:j]...)
	if cap(frames) <= legKeepFrames {
		l.frames = frames
	} else {
		l.frames = nil // a rare large batch: let it go with its batch
	}
	l.cursor = out[j-1].Seq
	return frames, skip
}
