package server

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/ferrygw/ferry/emulation"
)

// HandBackListener wraps a listener so that Ferry's carriers can take a
// connection off net/http while a long-poll waits and give it back
// afterwards: Accept returns given-back connections as well as new ones,
// and the server reads their next request as usual (keep-alive is kept).
// Gateway.Serve uses one; to use it with an http.Server of your own:
//
//	hl := server.NewHandBackListener(ln)
//	srv := &http.Server{Handler: gw, ConnContext: hl.ConnContext}
//	err := srv.Serve(hl)
//
// Without it, a waiting long-poll stays inside net/http, which works the
// same but costs more memory per idle session.
type HandBackListener struct {
	net.Listener
	back     chan net.Conn
	accepted chan acceptResult
	done     chan struct{}
	once     sync.Once
	pump     sync.Once
}

type acceptResult struct {
	c   net.Conn
	err error
}

// NewHandBackListener wraps ln.
func NewHandBackListener(ln net.Listener) *HandBackListener {
	return &HandBackListener{
		Listener: ln,
		back:     make(chan net.Conn),
		accepted: make(chan acceptResult),
		done:     make(chan struct{}),
	}
}

// Accept returns the next new or given-back connection.
func (l *HandBackListener) Accept() (net.Conn, error) {
	l.pump.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.back:
		return c, nil
	case r := <-l.accepted:
		return r.c, r.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// acceptLoop feeds Accept from the wrapped listener until it is closed.
func (l *HandBackListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- acceptResult{c, err}:
		case <-l.done:
			if c != nil {
				c.Close()
			}
			return
		}
		if errors.Is(err, net.ErrClosed) {
			return // Accept reported it; other errors (EMFILE) may pass
		}
	}
}

// Close closes the wrapped listener; connections given back afterwards
// are refused (their carrier closes them).
func (l *HandBackListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// give hands c back to Accept; false once the listener is closed.
func (l *HandBackListener) give(c net.Conn) bool {
	select {
	case l.back <- c:
		return true
	case <-l.done:
		return false
	}
}

// ConnContext is for http.Server.ConnContext: it lets the carriers of
// requests on c give connections back to l.
func (l *HandBackListener) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return emulation.WithHandBack(ctx, l.give)
}
