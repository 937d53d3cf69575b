package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
)

// ProxyConfig configures the proxy service (see Proxy).
type ProxyConfig struct {
	// Connect is the back end's address, "tcp://host:port" or "host:port".
	Connect string
	// DialTimeout bounds the connection to the back end. Zero means 10 s.
	DialTimeout time.Duration
	// CoalesceBytes is the most bytes sent to the client in one binary
	// message: each read from the back end becomes one message of at most
	// this size. Zero means 16 KiB.
	CoalesceBytes int
	// Logger receives dial failures and back-end errors; nil discards them.
	Logger *slog.Logger
	// OnDialError, if set, is called for every failed back-end dial (the
	// gateway counts them in ferry_backend_dial_errors_total).
	OnDialError func()
}

// Defaults of ProxyConfig.
const (
	DefaultProxyDialTimeout   = 10 * time.Second
	DefaultProxyCoalesceBytes = 16 << 10
)

// withDefaults returns c with every zero field set to its default.
func (c ProxyConfig) withDefaults() ProxyConfig {
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultProxyDialTimeout
	}
	if c.CoalesceBytes <= 0 {
		c.CoalesceBytes = DefaultProxyCoalesceBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// BackendAddr returns the host:port that Connect names, or an error if
// Connect is not "tcp://host:port" or "host:port".
func (c ProxyConfig) BackendAddr() (string, error) {
	addr, _ := strings.CutPrefix(c.Connect, "tcp://")
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return "", fmt.Errorf("server: proxy connect %q: want tcp://host:port or host:port", c.Connect)
	}
	return addr, nil
}

// Proxy returns the handler of the proxy service: each socket gets its own
// TCP connection to cfg.Connect. Every message from the client, text or
// binary, is written to the connection as bytes; every read from the
// connection goes to the client as one binary message.
//
// Backpressure holds end to end: the back end is read only as fast as the
// client accepts messages (an emulated session's Write waits while its
// retention window is full), and the client is read only as fast as the
// back end accepts bytes. A session that resumes after a dropped carrier
// keeps its connection, since the Socket outlives its carriers.
//
// If the back end cannot be reached the socket is closed with 1014 (bad
// gateway) and the dial error as reason. When the back end closes, the
// socket is closed with 1000 "backend closed" (1011 if the connection
// failed); when the client closes, the connection is closed once the
// messages the client sent before its close are written to it (a back end
// that stops reading gets backendDrainGrace to take them).
func Proxy(cfg ProxyConfig) func(bytesocket.Socket) {
	cfg = cfg.withDefaults()
	addr, err := cfg.BackendAddr()
	return func(s bytesocket.Socket) {
		if err != nil {
			cfg.Logger.Error("proxy misconfigured", "err", err)
			_ = s.Close(bytesocket.StatusInternalError, "proxy misconfigured")
			return
		}
		p := &proxyConn{cfg: cfg, addr: addr, s: s}
		p.run()
	}
}

// proxyConn joins one socket to one TCP connection.
type proxyConn struct {
	cfg  ProxyConfig
	addr string
	s    bytesocket.Socket
	log  *slog.Logger
}

func (p *proxyConn) run() {
	p.log = p.cfg.Logger.With("remote", addrString(p.s.RemoteAddr()), "transport", p.s.Transport(), "backend", p.addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		p.log.Warn("proxy dial failed", "err", err)
		if p.cfg.OnDialError != nil {
			p.cfg.OnDialError()
		}
		_ = p.s.Close(bytesocket.StatusBadGateway, closeReason("backend unavailable: "+dialFailure(err)))
		return
	}
	defer conn.Close()
	stop := closeWhenDone(p.s, conn)
	defer stop()
	down := make(chan struct{})
	go func() {
		defer close(down)
		defer cancel() // a back end that closed ends the upstream loop too
		p.downstream(ctx, conn)
	}()
	p.upstream(ctx, conn)
	cancel()         // first, so that downstream takes the next error as ours
	_ = conn.Close() // the client closed: so does the back end's connection
	<-down
}

// upstream copies client messages to conn until either side fails.
func (p *proxyConn) upstream(ctx context.Context, conn net.Conn) {
	for {
		_, msg, err := p.s.Read(ctx)
		if err != nil {
			return
		}
		if _, err := conn.Write(msg); err != nil {
			return
		}
	}
}

// downstream copies reads from conn to the client, one message per read,
// and closes the socket when the back end closes or fails.
func (p *proxyConn) downstream(ctx context.Context, conn net.Conn) {
	buf := make([]byte, p.cfg.CoalesceBytes)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if werr := p.s.Write(ctx, bytesocket.Binary, buf[:n]); werr != nil {
				return // the client is gone; upstream sees it too
			}
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return // we closed conn ourselves
		case errors.Is(err, io.EOF):
			_ = p.s.Close(bytesocket.StatusNormalClosure, "backend closed")
			return
		default:
			p.log.Warn("proxy backend failed", "err", err)
			_ = p.s.Close(bytesocket.StatusInternalError, closeReason("backend failed: "+err.Error()))
			return
		}
	}
}

// closeWhenDone bounds the upstream loop once s has finished, for sockets
// that report that (emulated sessions do): an upstream loop blocked writing
// to a back end that stopped reading would otherwise not notice the
// client's close. It does not close conn at once: messages the client sent
// before its close may still be queued for the upstream loop (a session
// finishes when the closes are exchanged, not when the application has
// read everything), and they must reach the back end. The back end gets
// backendDrainGrace to take them; then a blocked write fails and the loop
// ends. It returns a function that stops the watch.
func closeWhenDone(s bytesocket.Socket, conn net.Conn) (stop func()) {
	d, ok := s.(interface{ Done() <-chan struct{} })
	if !ok {
		return func() {}
	}
	quit := make(chan struct{})
	go func() {
		select {
		case <-d.Done():
			_ = conn.SetWriteDeadline(time.Now().Add(backendDrainGrace))
		case <-quit:
		}
	}()
	return func() { close(quit) }
}

// backendDrainGrace is how long a back end has, once the client's session
// has finished, to accept the bytes the client sent before closing.
const backendDrainGrace = 5 * time.Second

// addrString returns a.String(), or "" for a nil address.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// dialFailure describes a dial error without the local address.
func dialFailure(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// closeReason truncates s to a valid close reason.
func closeReason(s string) string {
	if len(s) <= bytesocket.MaxReasonBytes {
		return s
	}
	s = s[:bytesocket.MaxReasonBytes]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
