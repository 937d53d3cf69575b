package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

var proxyTransports = []string{client.WebSocket, client.SSE, client.LongPoll}

// proxyGateway serves the proxy service with cfg at /tcp and returns its
// URL.
func proxyGateway(t *testing.T, cfg server.ProxyConfig) string {
	t.Helper()
	g := server.NewGateway(nil, nil)
	g.Handle("/tcp", server.ServiceConfig{}, server.Proxy(cfg))
	ts := httptest.NewServer(g)
	t.Cleanup(ts.Close)
	return ts.URL + "/tcp"
}

// backend is a TCP listener whose connections are handled by serve.
func backend(t *testing.T, serve func(net.Conn)) (addr string, accepts *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepts = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			go serve(c)
		}
	}()
	return ln.Addr().String(), accepts
}

// expectClose reads s until it reports a close, and checks its code and
// that its reason contains reason.
func expectClose(t *testing.T, s bytesocket.Socket, code bytesocket.StatusCode, reason string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, _, err := s.Read(ctx)
		if err == nil {
			continue
		}
		var ce bytesocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code || !strings.Contains(ce.Reason, reason) {
			t.Fatalf("Read = %v, want close %d with reason containing %q", err, code, reason)
		}
		return
	}
}

func dialProxy(t *testing.T, url, tr string) bytesocket.Socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, url, &client.Options{Transport: tr, Resume: []string{tr}, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProxyBackendCloses(t *testing.T) {
	addr, _ := backend(t, func(c net.Conn) { c.Close() })
	url := proxyGateway(t, server.ProxyConfig{Connect: "tcp://" + addr})
	for _, tr := range proxyTransports {
		t.Run(tr, func(t *testing.T) {
			expectClose(t, dialProxy(t, url, tr), bytesocket.StatusNormalClosure, "backend closed")
		})
	}
}

func TestProxyBackendRefuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	url := proxyGateway(t, server.ProxyConfig{Connect: addr})
	for _, tr := range proxyTransports {
		t.Run(tr, func(t *testing.T) {
			expectClose(t, dialProxy(t, url, tr), bytesocket.StatusBadGateway, "connection refused")
		})
	}
}

// TestProxyBadConnect checks that a malformed address fails each session
// with 1011 rather than dialling.
func TestProxyBadConnect(t *testing.T) {
	if _, err := (server.ProxyConfig{Connect: "tcp://nohost"}).BackendAddr(); err == nil {
		t.Fatal("BackendAddr accepted an address without a port")
	}
	url := proxyGateway(t, server.ProxyConfig{Connect: "nohost"})
	expectClose(t, dialProxy(t, url, client.WebSocket), bytesocket.StatusInternalError, "misconfigured")
}

// TestProxyClientCloseClosesBackend checks that a back end that never
// answers keeps the session open, and that the client's close closes the
// TCP connection once the bytes sent before it are delivered.
func TestProxyClientCloseClosesBackend(t *testing.T) {
	got := make(chan string, 1)
	addr, _ := backend(t, func(c net.Conn) {
		defer c.Close()
		b, err := io.ReadAll(c) // until the proxy closes the connection
		got <- fmt.Sprintf("%q %v", b, err)
	})
	url := proxyGateway(t, server.ProxyConfig{Connect: addr})
	for _, tr := range proxyTransports {
		t.Run(tr, func(t *testing.T) {
			s := dialProxy(t, url, tr)
			ctx := context.Background()
			for _, m := range []string{"hello ", "back end"} {
				if err := s.Write(ctx, bytesocket.Text, []byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			waitClosed(t, s)
			if g, want := <-got, `"hello back end" <nil>`; g != want {
				t.Fatalf("back end read %s, want %s", g, want)
			}
		})
	}
}

// waitClosed closes s with 1000 and waits for the close handshake.
func waitClosed(t *testing.T, s bytesocket.Socket) {
	t.Helper()
	if err := s.Close(bytesocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.(*client.Conn).Done():
	case <-time.After(30 * time.Second):
		t.Fatal("close handshake did not finish")
	}
}

// TestProxyResumeKeepsConnection drops the client's carrier between echo
// round trips: the session resumes and the back end sees one connection
// throughout, closed only when the client closes.
func TestProxyResumeKeepsConnection(t *testing.T) {
	eof := make(chan error, 1)
	addr, accepts := backend(t, func(c net.Conn) {
		defer c.Close()
		_, err := io.Copy(c, c)
		eof <- err
	})
	url := proxyGateway(t, server.ProxyConfig{Connect: addr})
	for _, tr := range proxyTransports {
		t.Run(tr, func(t *testing.T) {
			before := accepts.Load()
			s := dialProxy(t, url, tr)
			c := s.(*client.Conn)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for i := range 5 {
				msg := fmt.Appendf(nil, "round %d", i)
				if err := s.Write(ctx, bytesocket.Binary, msg); err != nil {
					t.Fatal(err)
				}
				var echo []byte
				for len(echo) < len(msg) { // TCP may split the echo
					_, p, err := s.Read(ctx)
					if err != nil {
						t.Fatalf("round %d: %v", i, err)
					}
					echo = append(echo, p...)
				}
				if !bytes.Equal(echo, msg) {
					t.Fatalf("echo %q, want %q", echo, msg)
				}
				c.Interrupt()
			}
			waitClosed(t, s)
			if err := <-eof; err != nil {
				t.Fatalf("back end: %v", err)
			}
			if n := accepts.Load() - before; n != 1 {
				t.Fatalf("back end accepted %d connections, want 1", n)
			}
			if c.Resumes() < 4 {
				t.Fatalf("%d resumes, want at least 4", c.Resumes())
			}
		})
	}
}

// TestProxyFloodBoundedMemory has the back end write 64 MiB as fast as
// it can while the client reads slowly. Backpressure must hold the data
// in the TCP buffers and the session window: the server's heap grows by
// less than floodHeapBound, and the back end gets no further ahead of the
// client than that either.
func TestProxyFloodBoundedMemory(t *testing.T) {
	const floodHeapBound = 32 << 20
	total := 64 << 20
	if testing.Short() {
		total = 16 << 20
	}
	var written atomic.Int64
	addr, _ := backend(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 64<<10)
		for off := 0; off < total; off += len(buf) {
			for i := range buf {
				buf[i] = byte((off + i) % 251)
			}
			n, err := c.Write(buf)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	url := proxyGateway(t, server.ProxyConfig{Connect: addr})
	for _, tr := range proxyTransports {
		t.Run(tr, func(t *testing.T) {
			written.Store(0)
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			s := dialProxy(t, url, tr)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var read, maxLead int64
			total := int64(total)
			var maxHeap uint64
			next := int64(0)
			for read < total {
				_, p, err := s.Read(ctx)
				if err != nil {
					t.Fatalf("after %d bytes: %v", read, err)
				}
				for i, b := range p {
					if b != byte((read+int64(i))%251) {
						t.Fatalf("byte %d is %d, want %d", read+int64(i), b, (read+int64(i))%251)
					}
				}
				read += int64(len(p))
				if read >= next { // every MiB: a slow reader, and a sample
					next += 1 << 20
					time.Sleep(20 * time.Millisecond)
					runtime.ReadMemStats(&ms)
					maxHeap = max(maxHeap, ms.HeapInuse)
					maxLead = max(maxLead, written.Load()-read)
				}
			}
			expectClose(t, s, bytesocket.StatusNormalClosure, "backend closed")
			growth := int64(maxHeap) - int64(base)
			t.Logf("%d MiB passed; heap in use grew by at most %.1f MiB; back end at most %.1f MiB ahead",
				total>>20, float64(growth)/(1<<20), float64(maxLead)/(1<<20))
			if growth > floodHeapBound {
				t.Errorf("heap grew by %d bytes, want under %d: no backpressure?", growth, floodHeapBound)
			}
			if maxLead > floodHeapBound {
				t.Errorf("back end got %d bytes ahead of the client, want under %d", maxLead, floodHeapBound)
			}
		})
	}
}
