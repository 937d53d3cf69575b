package emulation

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
)

// Counters accumulates the traffic of every session of a Server (set
// Server.Counters) and of any other socket a caller counts into it. Every
// method is safe for concurrent use; the message counters are single
// atomic additions, cheap enough for the hot path.
type Counters struct {
	msgsIn, msgsOut   atomic.Uint64
	bytesIn, bytesOut atomic.Uint64
	resumes           atomic.Uint64
	fallbacks         atomic.Uint64

	mu     sync.Mutex // guards closes
	closes map[bytesocket.StatusCode]uint64

	// InSizes and OutSizes, if not nil, observe the payload size of every
	// message In and Out count. Set them before first use; Observe must be
	// cheap, as it runs on the message path (a prometheus.Observer is).
	InSizes, OutSizes Observer
	// OnAttach, if not nil, is called for every session's first carrier
	// and for every resume (see CountersSnapshot.Resumes). Set it before
	// first use.
	OnAttach func(Attached)
}

// Observer takes one sample of a distribution; a prometheus.Observer is
// one.
type Observer interface{ Observe(float64) }

// Attached describes a carrier attached to a session, for
// Counters.OnAttach.
type Attached struct {
	// From is the session's previous carrier (for a first carrier, the
	// one announced when it opened); To is the new one.
	From, To string
	// First is true for the session's first carrier; Open is then the
	// time since the session was created.
	First bool
	Open  time.Duration
	// Resume is true when the attach counts in Resumes, Fallback when it
	// counts in Fallbacks too.
	Resume, Fallback bool
	// Gap is, on a resume, the number of frames after the client's last
	// that the new carrier sends from the retention window: frames the
	// previous carrier sent unconfirmed, or that were queued while no
	// carrier was attached.
	Gap uint64
}

// CountersSnapshot is a point-in-time copy of Counters.
type CountersSnapshot struct {
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64
	// Resumes counts carriers re-attached to an existing session: every
	// Ferry WebSocket resume, and every switch to another carrier. Routine
	// SSE reconnects and long-poll requests on the same carrier are not
	// resumes.
	Resumes uint64
	// Fallbacks counts switches to a carrier later in the order
	// websocket, sse, longpoll (a subset of Resumes).
	Fallbacks uint64
	// Closes counts finished sessions by close code.
	Closes map[bytesocket.StatusCode]uint64
}

// In counts one message of n payload bytes received from a client.
func (c *Counters) In(n int) {
	if c != nil {
		c.msgsIn.Add(1)
		c.bytesIn.Add(uint64(n))
		if c.InSizes != nil {
			c.InSizes.Observe(float64(n))
		}
	}
}

// Out counts one message of n payload bytes sent to a client.
func (c *Counters) Out(n int) {
	if c != nil {
		c.msgsOut.Add(1)
		c.bytesOut.Add(uint64(n))
		if c.OutSizes != nil {
			c.OutSizes.Observe(float64(n))
		}
	}
}

// Close counts a finished session by its close code.
func (c *Counters) Close(code bytesocket.StatusCode) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closes == nil {
		c.closes = make(map[bytesocket.StatusCode]uint64)
	}
	c.closes[code]++
}

// attach counts a carrier attached to s after the client's frame last;
// prev is the session's previous (or announced) carrier and first is true
// for its first one.
func (c *Counters) attach(s *Session, prev, next string, first bool, last uint64) {
	if c == nil {
		return
	}
	a := Attached{From: prev, To: next, First: first}
	// Not resumes: a first carrier that was announced, an SSE reconnect,
	// the next long-poll request.
	if !(first && prev == next) && (prev != next || next == "websocket") {
		a.Resume = true
		c.resumes.Add(1)
		if carrierRank(next) > carrierRank(prev) {
			a.Fallback = true
			c.fallbacks.Add(1)
		}
	}
	if c.OnAttach == nil || !a.First && !a.Resume {
		return
	}
	if a.First {
		a.Open = time.Since(s.opened)
	}
	if a.Resume {
		a.Gap = s.Sent() - last // Attach has checked last <= Sent
	}
	c.OnAttach(a)
}

func carrierRank(t string) int {
	switch t {
	case "websocket":
		return 0
	case "sse":
		return 1
	}
	return 2
}

// Snapshot returns the current values.
func (c *Counters) Snapshot() CountersSnapshot {
	s := CountersSnapshot{
		MessagesIn: c.msgsIn.Load(), MessagesOut: c.msgsOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		Resumes: c.resumes.Load(), Fallbacks: c.fallbacks.Load(),
		Closes: make(map[bytesocket.StatusCode]uint64),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.closes {
		s.Closes[k] = v
	}
	return s
}

// closeCode is the code a finished channel ended with: the peer's close,
// else the error the application saw, else 1006. c.mu held.
func (c *Channel) closeCode() bytesocket.StatusCode {
	if c.remoteClose != nil {
		return c.remoteClose.Code
	}
	if ce, ok := c.appErr.(bytesocket.CloseError); ok {
		return ce.Code
	}
	return bytesocket.StatusAbnormalClosure
}
