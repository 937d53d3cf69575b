// Package faultproxy is a TCP proxy for fault tests: it forwards loopback
// connections to a target and breaks them the way networks do.
//
// New gives the simple proxy the server's chaos test uses: every
// connection is reset after a random number of bytes. NewFaulty gives a
// toxiproxy-like one configured by Faults: each connection gets a fault
// chosen by a seeded RNG (reset_peer, limit_data or timeout) that fires
// after a random number of bytes, and, independently, any connection idle
// for too long is cut, as by an idle-cutting middlebox.
package faultproxy

import (
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is a fault.
type Kind int

// The faults. ResetPeer, LimitData and Timeout are drawn at random per
// connection (see Faults); IdleCut is not drawn, it hits any connection
// idle for Faults.Idle.
const (
	None      Kind = iota
	ResetPeer      // close both sides with a TCP reset (SO_LINGER 0)
	LimitData      // close both sides normally (FIN), as after a data limit
	Timeout        // stop forwarding (drop what the client sends, stop reading the server), close after Faults.Hold
	IdleCut        // close both sides normally after Faults.Idle without a byte either way
)

// String returns the toxiproxy-like name of the fault.
func (k Kind) String() string {
	switch k {
	case ResetPeer:
		return "reset_peer"
	case LimitData:
		return "limit_data"
	case Timeout:
		return "timeout"
	case IdleCut:
		return "idle_cut"
	}
	return "none"
}

// Faults configures the faults of a proxy made by NewFaulty.
type Faults struct {
	// Seed seeds the RNG that draws each connection's fault and offset.
	// Connections are accepted in whatever order clients open them, so
	// the seed fixes the sequence of draws, not which connection gets
	// which.
	Seed uint64
	// Weights of the faults: each new connection gets ResetPeer,
	// LimitData, Timeout or no fault with probability proportional to its
	// weight. All zero: no random faults.
	ResetPeer, LimitData, Timeout, None int
	// MaxOffset bounds where a drawn fault fires: once the connection has
	// carried a uniform random number of bytes in [1, MaxOffset], both
	// directions together (mid-message, wherever that falls). A
	// connection that ends before then is not faulted.
	MaxOffset int64
	// Hold is how long a Timeout fault holds a stalled connection before
	// the proxy closes it; zero holds it until a peer closes.
	Hold time.Duration
	// Idle, if positive, cuts any connection that carried no byte in
	// either direction for this long.
	Idle time.Duration
	// OnEvent, if set, is called (from the proxy's goroutines) when a
	// fault fires, and again when a Timeout's stall ends.
	OnEvent func(Event)
}

// Event reports a fault.
type Event struct {
	Kind Kind
	Conn int64  // the connection's number, from 1 in order of acceptance
	Head string // the first line the client sent (an HTTP request line)
	// Offset is how many bytes the connection had carried, both ways,
	// when the fault fired.
	Offset int64
	// Ended is set on the second event of a Timeout: the stall is over,
	// after Held. ByPeer tells whether a peer closed the stalled
	// connection before the proxy did at Hold: the client that noticed
	// the silence, or a server that had nothing more to send (once the
	// server sends during a stall, the proxy stops reading from it).
	Ended  bool
	ByPeer bool
	Held   time.Duration
}

// Stats counts connections and faults.
type Stats struct {
	Conns    int64 // connections accepted
	Resets   int64 // ResetPeer faults fired
	Limits   int64 // LimitData faults fired
	Timeouts int64 // Timeout faults fired
	// TimeoutsByPeer counts the stalls that a peer ended before Hold ran
	// out (a subset of Timeouts whose stall has ended).
	TimeoutsByPeer int64
	IdleCuts       int64 // connections cut for being idle
	Cuts           int64 // connections cut by New's random resets
}

// Proxy forwards connections accepted on Addr() to a target address.
type Proxy struct {
	ln     net.Listener
	target string
	// maxCut is New's per-direction bound of the random cut offset; 0
	// disables cutting. Unused when faults is set.
	maxCut atomic.Int64
	wg     sync.WaitGroup

	cuts, conns, resets, limits, timeouts, byPeer, idleCuts atomic.Int64

	mu     sync.Mutex // guards open, links, faults, rng
	open   map[net.Conn]struct{}
	closed bool               // Close has run: connections tracked afterwards are closed at once
	links  map[*link]struct{} // open connections of a NewFaulty proxy
	faults *Faults            // nil: New's behaviour
	rng    *rand.Rand
}

// New listens on 127.0.0.1 and forwards to target, cutting connections
// with a reset after a uniform random offset in [1, maxCut] bytes in
// either direction (0: never).
func New(target string, maxCut int64) (*Proxy, error) {
	p, err := listen(target)
	if err != nil {
		return nil, err
	}
	p.maxCut.Store(maxCut)
	p.start()
	return p, nil
}

// NewFaulty listens on 127.0.0.1 and forwards to target with the faults f.
func NewFaulty(target string, f Faults) (*Proxy, error) {
	p, err := listen(target)
	if err != nil {
		return nil, err
	}
	p.SetFaults(f)
	p.start()
	return p, nil
}

func listen(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &Proxy{ln: ln, target: target, open: make(map[net.Conn]struct{}), links: make(map[*link]struct{})}, nil
}

func (p *Proxy) start() {
	p.wg.Add(1)
	go p.accept()
}

// Addr returns the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetMaxCut changes New's cut bound for new connections (0 stops cutting).
func (p *Proxy) SetMaxCut(n int64) { p.maxCut.Store(n) }

// SetFaults replaces the faults and reseeds the RNG with f.Seed. New
// connections draw their fault from f; so do open connections that have
// none yet (on a proxy made by NewFaulty), theirs firing after a random
// number of further bytes. Hold, Idle and OnEvent apply to every
// connection from now on.
func (p *Proxy) SetFaults(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = &f
	p.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	for l := range p.links {
		kind, offset := draw(p.rng, &f)
		l.arm(&f, kind, offset)
	}
}

// Cuts returns how many connections were cut by a fault of any kind.
func (p *Proxy) Cuts() int64 {
	s := p.Stats()
	return s.Cuts + s.Resets + s.Limits + s.Timeouts + s.IdleCuts
}

// Conns returns how many connections were accepted.
func (p *Proxy) Conns() int64 { return p.conns.Load() }

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	return Stats{
		Conns: p.conns.Load(), Resets: p.resets.Load(), Limits: p.limits.Load(),
		Timeouts: p.timeouts.Load(), TimeoutsByPeer: p.byPeer.Load(),
		IdleCuts: p.idleCuts.Load(), Cuts: p.cuts.Load(),
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.open {
		c.Close()
	}
	var stalled []*link
	for l := range p.links {
		stalled = append(stalled, l)
	}
	p.mu.Unlock()
	for _, l := range stalled {
		l.mu.Lock()
		isStalled := !l.stalledAt.IsZero()
		l.mu.Unlock()
		if isStalled {
			l.endStall(false)
		}
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		n := p.conns.Add(1)
		p.wg.Add(1)
		go p.serve(c, n)
	}
}

func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.open[c] = struct{}{}
		if p.closed { // accepted just before Close: Close did not see it
			c.Close()
		}
	} else {
		delete(p.open, c)
	}
}

func (p *Proxy) serve(client net.Conn, n int64) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, true)
	p.track(server, true)
	defer p.track(client, false)
	defer p.track(server, false)
	p.mu.Lock()
	f := p.faults
	if f == nil {
		p.mu.Unlock()
		p.serveCutting(client, server)
		return
	}
	l := &link{p: p, n: n, client: client, server: server}
	kind, offset := draw(p.rng, f)
	l.arm(f, kind, offset)
	p.links[l] = struct{}{}
	p.mu.Unlock()
	l.run()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// draw picks a connection's fault and offset.
func draw(rng *rand.Rand, f *Faults) (Kind, int64) {
	total := f.ResetPeer + f.LimitData + f.Timeout + f.None
	if total <= 0 || f.MaxOffset <= 0 {
		return None, 0
	}
	r := rng.IntN(total)
	offset := 1 + rng.Int64N(f.MaxOffset)
	for _, w := range []struct {
		k Kind
		w int
	}{{ResetPeer, f.ResetPeer}, {LimitData, f.LimitData}, {Timeout, f.Timeout}} {
		if r < w.w {
			return w.k, offset
		}
		r -= w.w
	}
	return None, 0
}

// serveCutting is New's behaviour: a reset after a random offset per
// direction.
func (p *Proxy) serveCutting(client, server net.Conn) {
	var once sync.Once
	cut := func(byFault bool) {
		once.Do(func() {
			if byFault {
				p.cuts.Add(1)
				if tc, ok := client.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // reset, as a failing middlebox would
				}
			}
			client.Close()
			server.Close()
		})
	}
	limit := func() int64 {
		if m := p.maxCut.Load(); m > 0 {
			return 1 + rand.Int64N(m)
		}
		return -1
	}
	done := make(chan struct{}, 2)
	go func() { pipe(server, client, limit(), cut); done <- struct{}{} }()
	go func() { pipe(client, server, limit(), cut); done <- struct{}{} }()
	<-done
	<-done
}

// pipe copies src to dst, cutting after limit bytes (limit < 0: never).
func pipe(dst, src net.Conn, limit int64, cut func(bool)) {
	if limit < 0 {
		_, _ = io.Copy(dst, src)
		cut(false)
		return
	}
	n, _ := io.CopyN(dst, src, limit)
	cut(n == limit)
}

// link is one connection of a NewFaulty proxy.
type link struct {
	p              *Proxy
	n              int64
	client, server net.Conn

	mu         sync.Mutex // guards the fields below
	f          *Faults
	kind       Kind   // the drawn fault
	offset     int64  // where it fires, in bytes carried
	carried    int64  // bytes forwarded, both ways
	head       string // first line from the client
	headDone   bool
	last       time.Time // last byte forwarded
	stalledAt  time.Time // when a Timeout fired; zero: not stalled
	stallDone  chan struct{}
	swallowed  [2]int64 // bytes read and dropped while stalled: from server, from client
	closed     bool
	idleTimer  *time.Timer
	holdTimer  *time.Timer
	stallEnded bool
}

// arm sets the link's faults, and draws kind at offset further bytes
// unless it has a fault already.
func (l *link) arm(f *Faults, kind Kind, offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f = f
	if l.last.IsZero() {
		l.last = time.Now()
	}
	if l.kind == None && !l.closed {
		l.kind, l.offset = kind, l.carried+offset
	}
	if f.Idle > 0 && l.idleTimer == nil && !l.closed {
		l.idleTimer = time.AfterFunc(f.Idle, l.checkIdle)
	}
}

func (l *link) run() {
	done := make(chan struct{}, 2)
	go func() { l.pipe(l.server, l.client, true); done <- struct{}{} }()
	go func() { l.pipe(l.client, l.server, false); done <- struct{}{} }()
	<-done
	<-done
	l.mu.Lock()
	if l.idleTimer != nil {
		l.idleTimer.Stop()
	}
	if l.holdTimer != nil {
		l.holdTimer.Stop()
	}
	l.mu.Unlock()
}

// pipe forwards src to dst until either side ends or a fault stops it.
func (l *link) pipe(dst, src net.Conn, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			m, fire, ok := l.admit(buf[:n], fromClient)
			if !ok {
				if l.isClosed() {
					return
				}
				if done := l.swallow(n, fromClient); done != nil {
					<-done
					return
				}
				continue // stalled: the bytes go nowhere
			}
			if m > 0 {
				if _, werr := dst.Write(buf[:m]); werr != nil {
					l.end(false)
					return
				}
			}
			if fire {
				l.fire()
				if l.isClosed() {
					return
				}
				continue
			}
		}
		if err != nil {
			l.end(true)
			return
		}
	}
}

// admit accounts for p read from one side. It returns how many of its
// bytes to forward, whether the drawn fault fires after them, and false
// when nothing may be forwarded (stalled or closed).
func (l *link) admit(p []byte, fromClient bool) (m int, fire, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || !l.stalledAt.IsZero() {
		return 0, false, false
	}
	if fromClient && !l.headDone {
		line, _, found := strings.Cut(string(p[:min(len(p), 512)]), "\r\n")
		l.head += line
		l.headDone = found || len(l.head) >= 512
	}
	m = len(p)
	if l.kind != None && l.carried+int64(m) >= l.offset {
		m = int(l.offset - l.carried)
		fire = true
	}
	l.carried += int64(m)
	l.last = time.Now()
	return m, fire, true
}

// swallow handles n bytes read from a stalled connection, which go
// nowhere. From the client the proxy keeps reading (and dropping), so it
// sees the client give up and close; from the server it stops reading, so
// the server's writes back up as on a path that went dead: swallow
// returns a channel, closed when the stall ends, to wait on.
func (l *link) swallow(n int, fromClient bool) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	if fromClient {
		i = 1
	}
	l.swallowed[i] += int64(n)
	if fromClient || l.stallDone == nil {
		return nil
	}
	return l.stallDone
}

func (l *link) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// fire applies the drawn fault.
func (l *link) fire() {
	l.mu.Lock()
	if l.closed || !l.stalledAt.IsZero() {
		l.mu.Unlock()
		return
	}
	ev := Event{Kind: l.kind, Conn: l.n, Head: l.head, Offset: l.carried}
	switch l.kind {
	case ResetPeer:
		l.p.resets.Add(1)
		l.closeLocked(true)
	case LimitData:
		l.p.limits.Add(1)
		l.closeLocked(false)
	case Timeout:
		l.p.timeouts.Add(1)
		l.stalledAt = time.Now()
		l.stallDone = make(chan struct{})
		if l.f.Hold > 0 {
			l.holdTimer = time.AfterFunc(l.f.Hold, func() { l.endStall(false) })
		}
	}
	l.mu.Unlock()
	l.report(ev)
}

// end handles a side that ended (by a read error, or a failed write).
func (l *link) end(byPeer bool) {
	l.mu.Lock()
	stalled := !l.stalledAt.IsZero()
	l.mu.Unlock()
	if stalled {
		l.endStall(byPeer)
		return
	}
	l.mu.Lock()
	l.closeLocked(false)
	l.mu.Unlock()
}

// endStall closes a stalled connection: the proxy at Hold, or because a
// peer closed it first.
func (l *link) endStall(byPeer bool) {
	l.mu.Lock()
	if l.stallEnded {
		l.mu.Unlock()
		return
	}
	l.stallEnded = true
	ev := Event{Kind: Timeout, Conn: l.n, Head: l.head, Offset: l.carried, Ended: true, ByPeer: byPeer, Held: time.Since(l.stalledAt)}
	if byPeer {
		l.p.byPeer.Add(1)
	}
	close(l.stallDone)
	l.closeLocked(false)
	l.mu.Unlock()
	l.report(ev)
}

// checkIdle cuts the connection if nothing was forwarded for f.Idle,
// else waits for the rest of the interval.
func (l *link) checkIdle() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	if !l.stalledAt.IsZero() || l.f.Idle <= 0 {
		l.mu.Unlock()
		return // the stall ends by itself; or idle cuts are off
	}
	if idle := time.Since(l.last); idle < l.f.Idle {
		l.idleTimer.Reset(l.f.Idle - idle)
		l.mu.Unlock()
		return
	}
	ev := Event{Kind: IdleCut, Conn: l.n, Head: l.head, Offset: l.carried}
	l.p.idleCuts.Add(1)
	l.closeLocked(false)
	l.mu.Unlock()
	l.report(ev)
}

// closeLocked closes both sides, with resets if rst. l.mu is held.
func (l *link) closeLocked(rst bool) {
	if l.closed {
		return
	}
	l.closed = true
	for _, c := range []net.Conn{l.client, l.server} {
		if tc, ok := c.(*net.TCPConn); ok && rst {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
}

func (l *link) report(ev Event) {
	l.mu.Lock()
	on := l.f.OnEvent
	l.mu.Unlock()
	if on != nil {
		on(ev)
	}
}
