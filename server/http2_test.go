package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// h2Probe is an HTTP/2 client transport that counts the TCP connections
// it dials and the protocol of every response.
type h2Probe struct {
	tr    *http.Transport
	dials atomic.Int32

	mu     sync.Mutex     // guards protos
	protos map[string]int // response protocol -> count
}

// newH2Probe returns a probe that speaks HTTP/2 over TLS (trusting pool)
// or, with pool nil, HTTP/2 with prior knowledge (h2c) only.
func newH2Probe(pool *x509.CertPool) *h2Probe {
	p := &h2Probe{protos: map[string]int{}}
	p.tr = &http.Transport{
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				p.dials.Add(1)
			}
			return c, err
		},
	}
	if pool != nil {
		p.tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	} else {
		p.tr.Protocols = new(http.Protocols)
		p.tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return p
}

func (p *h2Probe) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.tr.RoundTrip(req)
	if err == nil {
		p.mu.Lock()
		p.protos[resp.Proto]++
		p.mu.Unlock()
	}
	return resp, err
}

func (p *h2Probe) client() *http.Client { return &http.Client{Transport: p} }

// check fails t unless every response so far was HTTP/2 and came over
// the one connection the probe dialed.
func (p *h2Probe) check(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.protos) != 1 || p.protos["HTTP/2.0"] == 0 {
		t.Errorf("responses by protocol: %v; want HTTP/2.0 only", p.protos)
	}
	if n := p.dials.Load(); n != 1 {
		t.Errorf("%d connections dialed; want 1", n)
	}
}

// TestHTTP2Sessions runs the ferry command's server over TLS (h2 by ALPN)
// and with h2c, under a connection limit of 3, opens 10 SSE and 10
// long-poll sessions with the Go client over one HTTP/2 connection and
// echoes on all of them at once; meanwhile a Ferry WebSocket and a plain
// one open HTTP/1.1 connections of their own and echo too.
func TestHTTP2Sessions(t *testing.T) {
	for _, mode := range []string{"tls", "h2c"} {
		t.Run(mode, func(t *testing.T) {
			yaml := "max_connections: 3\n"
			scheme, probe := "http", newH2Probe(nil)
			dialer := &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
			if mode == "tls" {
				certFile, keyFile, pool := selfSigned(t, t.TempDir())
				yaml += "tls:\n  cert: " + certFile + "\n  key: " + keyFile + "\n"
				scheme, probe = "https", newH2Probe(pool)
				// As a browser asks for a WebSocket's connection.
				dialer.TLSClientConfig = &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}
			} else {
				yaml += "h2c: true\n"
			}
			addr := runConfig(t, yaml)
			hc := probe.client()
			base := scheme + "://" + addr
			waitHealthy(t, hc, base)

			var socks []bytesocket.Socket
			for i := range 20 {
				tr := []string{client.SSE, client.LongPoll}[i%2]
				s, err := client.Dial(context.Background(), base+"/echo", &client.Options{Transport: tr, HTTPClient: hc})
				if err != nil {
					t.Fatalf("session %d (%s): %v", i, tr, err)
				}
				socks = append(socks, s)
			}
			for _, tr := range []string{client.WebSocket, client.Plain} {
				s, err := client.Dial(context.Background(), base+"/echo", &client.Options{Transport: tr, Dialer: dialer})
				if err != nil {
					t.Fatalf("%s beside the HTTP/2 connection: %v", tr, err)
				}
				socks = append(socks, s)
			}
			var wg sync.WaitGroup
			errs := make([]error, len(socks))
			for i, s := range socks {
				wg.Go(func() { errs[i] = echo(s, fmt.Sprintf("message %d", i)) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("session %d: %v", i, err)
				}
			}
			probe.check(t)
			for _, s := range socks {
				closeAndWait(t, s)
			}
		})
	}
}

// TestHTTP2ResetStream checks that a client that resets its event stream
// or its held poll (an HTTP/2 stream, on a connection that stays open) is
// noticed at once: the session's resume timeout starts then, not at the
// next heartbeat, a minute later.
func TestHTTP2ResetStream(t *testing.T) {
	const resume = time.Second
	for _, tr := range []string{"sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			g := server.NewGateway(nil, nil)
			ended := make(chan struct{})
			g.Handle("/svc", server.ServiceConfig{Emulation: emulation.Config{
				Heartbeat: time.Minute, PollHold: time.Minute, ResumeTimeout: resume,
			}}, func(s bytesocket.Socket) {
				defer close(ended)
				for {
					if _, _, err := s.Read(context.Background()); err != nil {
						return
					}
				}
			})
			base, probe := serveH2(t, g)
			sid := openSessionWith(t, probe.client(), base+"/svc", map[string]string{"sse": "sse", "poll": "longpoll"}[tr])
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/svc/.ferry/"+sid+"/"+tr+"?last=0", nil)
			opened := make(chan error, 1)
			go func() { // a poll answers only once reset: Do fails then
				resp, err := probe.client().Do(req)
				if err != nil {
					opened <- err
					return
				}
				defer resp.Body.Close()
				body := bufio.NewReader(resp.Body)
				opened <- readUntil(body, "data: o")
				_, _ = io.Copy(io.Discard, body)
			}()
			if tr == "sse" {
				if err := <-opened; err != nil {
					t.Fatalf("event stream: %v", err)
				}
			}
			// The stream (the held poll) holds the session beyond its
			// resume timeout...
			select {
			case <-ended:
				t.Fatal("the session ended while its downstream was held")
			case <-time.After(resume + resume/2):
			}
			// ... until the client resets it.
			cancel()
			select {
			case <-ended:
			case <-time.After(30 * time.Second):
				t.Fatal("the session outlived its reset downstream by 30 s")
			}
			probe.check(t)
		})
	}
}

// TestHTTP2UploadTimeout checks the upload timeout on an HTTP/2 stream: a
// POST body that stalls is answered 408, and the session's event stream
// on the same connection keeps delivering.
func TestHTTP2UploadTimeout(t *testing.T) {
	g := server.NewGateway(nil, nil)
	socks := make(chan bytesocket.Socket, 1)
	g.Handle("/svc", server.ServiceConfig{Emulation: emulation.Config{UploadTimeout: 300 * time.Millisecond}},
		func(s bytesocket.Socket) {
			socks <- s
			for {
				if _, _, err := s.Read(context.Background()); err != nil {
					return
				}
			}
		})
	base, probe := serveH2(t, g)
	hc := probe.client()
	sid := openSessionWith(t, hc, base+"/svc", "sse")
	resp, err := hc.Get(base + "/svc/.ferry/" + sid + "/sse?last=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := bufio.NewReader(resp.Body)
	if err := readUntil(stream, "data: o"); err != nil {
		t.Fatal(err)
	}

	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("tstalled")) }() // no LF, no end
	req, _ := http.NewRequest(http.MethodPost, base+"/svc/.ferry/"+sid+"/send?seq=1", pr)
	req.Header.Set("Content-Type", "text/plain")
	up, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	up.Body.Close()
	if up.StatusCode != http.StatusRequestTimeout || up.ProtoMajor != 2 {
		t.Fatalf("stalled upload: %s %s; want HTTP/2.0 408", up.Proto, up.Status)
	}

	s := <-socks
	if err := s.Write(context.Background(), bytesocket.Text, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if err := readUntil(stream, "data: tstill here"); err != nil {
		t.Fatalf("event stream after the 408: %v", err)
	}
	probe.check(t)
}

// TestH2CConfig checks the h2c key: a boolean, and only without TLS.
func TestH2CConfig(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"h2c: true\n", ""},
		{"h2c: false\n", ""},
		{"h2c: yes please\n", `f.yaml:1: h2c: "yes please" is not true or false`},
		{"h2c: true\ntls:\n  cert: c.pem\n  key: k.pem\n", "f.yaml: h2c: only without tls (over TLS, HTTP/2 is negotiated by ALPN)"},
	} {
		cfg, err := server.ParseConfig("f.yaml", []byte(tc.yaml))
		got := ""
		if err != nil {
			got = err.Error()
		} else if cfg.H2C != strings.Contains(tc.yaml, "true") {
			got = fmt.Sprintf("H2C = %v", cfg.H2C)
		}
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.yaml, got, tc.want)
		}
	}
}

// serveH2 serves g with Gateway.Serve on a TLS listener that offers h2
// and http/1.1, as the ferry command's does, until the test ends. It
// returns the base URL and a probe that has dialed it once.
func serveH2(t *testing.T, g *server.Gateway) (string, *h2Probe) {
	t.Helper()
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	probe := newH2Probe(pool)
	base := "https://" + ln.Addr().String()
	waitHealthy(t, probe.client(), base)
	return base, probe
}

// waitHealthy waits until base answers GET /healthz.
func waitHealthy(t *testing.T, hc *http.Client, base string) {
	t.Helper()
	var err error
	for range 100 {
		var resp *http.Response
		if resp, err = hc.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal(err)
}

// openSession opens a session at service with POST open and returns its
// id.
func openSessionWith(t *testing.T, hc *http.Client, service, transport string) string {
	t.Helper()
	resp, err := hc.Post(service+"/.ferry/open?v=1&transport="+transport, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info wire.OpenInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST open: %s, %v", resp.Status, err)
	}
	return info.Session
}

// readUntil reads lines from r until one starts with prefix.
func readUntil(r *bufio.Reader, prefix string) error {
	for {
		line, err := r.ReadString('\n')
		if strings.HasPrefix(line, prefix) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("no line %q: %w", prefix, err)
		}
	}
}

// echo writes msg on s and reads it back.
func echo(s bytesocket.Socket, msg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Write(ctx, bytesocket.Text, []byte(msg)); err != nil {
		return err
	}
	_, p, err := s.Read(ctx)
	if err == nil && string(p) != msg {
		err = fmt.Errorf("echo: %q, want %q", p, msg)
	}
	return err
}
