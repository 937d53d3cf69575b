package server

import (
	"net"
	"slices"
	"sync"
)

// limitListener accepts at most cap(slots) connections at once. At the
// limit it stops calling Accept, so new connections wait in the kernel's
// backlog instead of being accepted and dropped, and the process never
// runs out of file descriptors (EMFILE). A connection frees its slot
// when it is closed, once, however many layers close it (TLS, net/http,
// a carrier that took it off net/http). A connection given back by a
// carrier (HandBackListener, above this one) is not accepted again, so it
// keeps its one slot.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	var once sync.Once
	release := func() { once.Do(func() { <-l.slots }) }
	if tc, ok := c.(*net.TCPConn); ok {
		return &limitedTCPConn{TCPConn: tc, release: release}, nil
	}
	return &limitedConn{Conn: c, release: release}, nil
}

// Close closes the wrapped listener and stops waiting Accepts.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitedTCPConn is a TCP connection holding a slot. It embeds
// *net.TCPConn, not net.Conn, so that sendfile (ReadFrom) and writev
// (net.Buffers.WriteTo, which broadcasts use) keep working.
type limitedTCPConn struct {
	*net.TCPConn
	release func()
}

func (c *limitedTCPConn) Close() error {
	err := c.TCPConn.Close()
	c.release()
	return err
}

// limitedConn is any other connection holding a slot.
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// maxConnections returns cfg's connection limit: max_connections, or by
// default 90% of the soft RLIMIT_NOFILE, halved if a proxy service is
// configured (each proxied session holds a back-end connection too); 0,
// no limit, where the system has no such limit.
func maxConnections(cfg *Config) int {
	if cfg.MaxConnections > 0 {
		return cfg.MaxConnections
	}
	n := fileLimit() / 10 * 9
	if slices.ContainsFunc(cfg.Services, func(s ServiceSpec) bool { return s.Type == "proxy" }) {
		n /= 2
	}
	return int(min(n, 1<<30))
}
