package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
	"github.com/ferrygw/ferry/wire"
)

// serveGateway serves g with Gateway.Serve on a loopback port until the
// test ends and returns its address.
func serveGateway(t *testing.T, g *server.Gateway) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// runConfig serves a YAML configuration with server.Run on a free
// loopback port until the test ends, and returns the address once Run
// reports it is serving.
func runConfig(t *testing.T, yaml string) string {
	t.Helper()
	addr := freeAddr(t)
	cfg, err := server.ParseConfig("t.yaml", []byte("listen: "+addr+"\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &serveWatch{serving: make(chan struct{})}
	go func() { done <- server.Run(ctx, cfg, logs) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-logs.serving:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return addr
}

// serveWatch is Run's log, closing serving when it logs "ferry serving".
type serveWatch struct {
	mu      sync.Mutex
	once    sync.Once
	serving chan struct{}
}

func (w *serveWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if strings.Contains(string(p), "ferry serving") {
		w.once.Do(func() { close(w.serving) })
	}
	return len(p), nil
}

// rawConn is a client connection for requests written by hand.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

// send writes a request (or anything) without waiting for an answer.
func (c *rawConn) send(t *testing.T, req string) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
}

// response reads one response, body included, within d.
func (c *rawConn) response(d time.Duration) (*http.Response, string, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), err
}

// get sends GET path and returns the response's status.
func (c *rawConn) get(t *testing.T, path string) int {
	t.Helper()
	c.send(t, "GET "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	resp, _, err := c.response(5 * time.Second)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode
}

// closedIn reports how long the server took to close the connection,
// failing if it sent anything or kept it open for d.
func (c *rawConn) closedIn(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(d))
	n, err := c.br.Read(make([]byte, 1))
	if n > 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("want the server to close the connection within %v: read %d bytes, %v", d, n, err)
	}
	return time.Since(start)
}

// blocked reports whether no response arrives on c within d.
func (c *rawConn) blocked(d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	_, err := c.br.Peek(1)
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// openLongPoll opens a long-poll session of the echo service at /echo on
// c and returns its id.
func (c *rawConn) openLongPoll(t *testing.T) string {
	t.Helper()
	c.send(t, "POST /echo/.ferry/open?transport=longpoll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
	resp, body, err := c.response(5 * time.Second)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("open: %v %q %v", resp, body, err)
	}
	var info wire.OpenInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	return info.Session
}

// poll sends a long-poll that the server holds (taking the connection
// off net/http) until its hold ends, then gives the connection back.
func (c *rawConn) poll(t *testing.T, sid string) {
	t.Helper()
	c.send(t, fmt.Sprintf("GET /echo/.ferry/%s/poll?last=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", sid))
	if resp, body, err := c.response(5 * time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("poll: %v %q %v", resp, body, err)
	}
}

// headersOf returns a GET request whose header section is about size
// bytes.
func headersOf(size int) string {
	var b strings.Builder
	b.WriteString("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "X-Pad-%d: %s\r\n", i, strings.Repeat("a", 1000))
	}
	return b.String() + "\r\n"
}

// TestMaxHeaderBytes sends 200 KiB of headers, which net/http's own 1 MB
// limit would read, and gets 431 from the gateway's 64 KiB default;
// 32 KiB still passes. The max_header_bytes key sets the limit.
func TestMaxHeaderBytes(t *testing.T) {
	cases := []struct {
		name string
		addr func() string
		size int
		want int
	}{
		{"default 32 KiB", func() string { return serveGateway(t, server.NewGateway(nil, nil)) }, 32 << 10, 200},
		{"default 200 KiB", func() string { return serveGateway(t, server.NewGateway(nil, nil)) }, 200 << 10, 431},
		{"max_header_bytes 4096", func() string { return runConfig(t, "max_header_bytes: 4096\n") }, 12 << 10, 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, tc.addr())
			go func() { _, _ = io.WriteString(c, headersOf(tc.size)) }() // the server may stop reading
			resp, _, err := c.response(5 * time.Second)
			if err != nil || resp.StatusCode != tc.want {
				t.Fatalf("%d bytes of headers: %v %v, want %d", tc.size, resp, err, tc.want)
			}
		})
	}
}

// TestIdleTimeout checks that the server closes a keep-alive connection
// idle for IdleTimeout, and a connection given back after a long-poll
// too: net/http takes that one as new, so what bounds its wait for the
// next request is the header timeout, which Serve keeps within
// IdleTimeout (not net/http's usual 10 s).
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	g := server.NewGateway(nil, nil)
	g.IdleTimeout = idle
	g.Handle("/echo", server.ServiceConfig{Emulation: emulation.Config{PollHold: 100 * time.Millisecond}}, server.Echo)
	addr := serveGateway(t, g)

	t.Run("keep-alive", func(t *testing.T) {
		c := dialRaw(t, addr)
		if got := c.get(t, "/healthz"); got != 200 {
			t.Fatalf("GET /healthz: %d", got)
		}
		if d := c.closedIn(t, 5*time.Second); d < idle/2 {
			t.Errorf("closed after %v, before the idle timeout %v", d, idle)
		}
	})
	t.Run("given back after a long-poll", func(t *testing.T) {
		c := dialRaw(t, addr)
		sid := c.openLongPoll(t)
		c.poll(t, sid)
		if d := c.closedIn(t, 5*time.Second); d < idle/2 {
			t.Errorf("closed after %v, before the idle timeout %v", d, idle)
		}
	})
	t.Run("idle_timeout key", func(t *testing.T) {
		c := dialRaw(t, runConfig(t, "idle_timeout: 300ms\n"))
		if got := c.get(t, "/healthz"); got != 200 {
			t.Fatalf("GET /healthz: %d", got)
		}
		c.closedIn(t, 5*time.Second)
	})
}

// TestMaxConnections fills max_connections 5 with a canary that keeps
// using its connection (long-polls given back to net/http included) and
// four idle connections: the sixth is not served until one of them
// closes, and a closed connection frees exactly one slot.
func TestMaxConnections(t *testing.T) {
	addr := runConfig(t, "max_connections: 5\nservices:\n  - path: /echo\n    type: echo\n    heartbeat: 200ms\ngrace: 500ms\n")
	canary := dialRaw(t, addr)
	sid := canary.openLongPoll(t)
	canary.poll(t, sid) // given back: must not take a second slot
	idle := make([]*rawConn, 4)
	for i := range idle {
		idle[i] = dialRaw(t, addr)
		if got := idle[i].get(t, "/healthz"); got != 200 {
			t.Fatalf("connection %d: %d", i+2, got)
		}
	}

	sixth := dialRaw(t, addr) // the kernel completes it; Ferry does not accept it
	sixth.send(t, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	if !sixth.blocked(300 * time.Millisecond) {
		t.Fatal("the 6th connection was served beyond max_connections 5")
	}
	canary.poll(t, sid)
	if got := canary.get(t, "/healthz"); got != 200 {
		t.Fatalf("canary at the limit: %d", got)
	}

	idle[0].Close()
	if resp, _, err := sixth.response(5 * time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the 6th connection once a slot is free: %v %v", resp, err)
	}
	seventh := dialRaw(t, addr)
	seventh.send(t, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	if !seventh.blocked(300 * time.Millisecond) {
		t.Fatal("a closed connection freed more than one slot")
	}
	canary.Close() // its connection was given back twice: still one slot
	if resp, _, err := seventh.response(5 * time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the 7th connection once the canary closed: %v %v", resp, err)
	}
	eighth := dialRaw(t, addr)
	eighth.send(t, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	if !eighth.blocked(300 * time.Millisecond) {
		t.Fatal("the canary's connection freed more than one slot")
	}
}

// TestChunkedRequestCloses sends a request with both Content-Length and
// Transfer-Encoding followed by a second, smuggled one: the first is
// answered with Connection: close and the connection closed, so the
// second is never read (RFC 9112 §6.1). net/http alone would read the
// body as chunked and answer the smuggled request on the same connection.
// A request with Content-Length only keeps its connection.
func TestChunkedRequestCloses(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	addr := serveGateway(t, g)
	const smuggled = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	open := "POST /echo/.ferry/open HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
	cases := []struct {
		name, framing, body string
		keep                bool
	}{
		{"Content-Length and Transfer-Encoding", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n", false},
		{"Transfer-Encoding", "Transfer-Encoding: chunked\r\n", "0\r\n\r\n", false},
		{"Content-Length", "Content-Length: 5\r\n", "hello", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(t, open+tc.framing+"\r\n"+tc.body+smuggled)
			resp, _, err := c.response(5 * time.Second)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("open: %v %v", resp, err)
			}
			if resp.Close == tc.keep { // http.ReadResponse moves Connection: close here
				t.Errorf("Connection: close is %v, want %v", resp.Close, !tc.keep)
			}
			if tc.keep {
				if resp, _, err := c.response(5 * time.Second); err != nil || resp.StatusCode != 200 {
					t.Fatalf("second request on a kept connection: %v %v", resp, err)
				}
				return
			}
			c.closedIn(t, 5*time.Second)
		})
	}
}
