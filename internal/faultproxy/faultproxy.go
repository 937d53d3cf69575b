// Package faultproxy is a TCP proxy for fault tests: it forwards loopback
// connections to a target and cuts each one abruptly after a random number
// of bytes, so carriers drop at arbitrary points mid-message.
package faultproxy

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
)

// Proxy forwards connections accepted on Addr() to a target address.
type Proxy struct {
	ln     net.Listener
	target string
	// MaxCut bounds the random byte offset (per direction) at which a
	// connection is cut; 0 disables cutting. Set before use or with
	// SetMaxCut.
	maxCut atomic.Int64
	cuts   atomic.Int64
	conns  atomic.Int64
	wg     sync.WaitGroup

	mu   sync.Mutex // guards open
	open map[net.Conn]struct{}
}

// New listens on 127.0.0.1 and forwards to target, cutting connections
// after a uniform random offset in [1, maxCut] bytes (0: never).
func New(target string, maxCut int64) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, open: make(map[net.Conn]struct{})}
	p.maxCut.Store(maxCut)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetMaxCut changes the cut bound for new connections (0 stops cutting).
func (p *Proxy) SetMaxCut(n int64) { p.maxCut.Store(n) }

// Cuts returns how many connections were cut.
func (p *Proxy) Cuts() int64 { return p.cuts.Load() }

// Conns returns how many connections were accepted.
func (p *Proxy) Conns() int64 { return p.conns.Load() }

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
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
		p.conns.Add(1)
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.open[c] = struct{}{}
	} else {
		delete(p.open, c)
	}
}

func (p *Proxy) serve(client net.Conn) {
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
