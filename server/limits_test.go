package server_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
)

// fakeClock is a settable clock for the handshake rate limiter.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func dial(t *testing.T, url, transport string) (bytesocket.Socket, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.Dial(ctx, url, &client.Options{Transport: transport})
}

func mustDial(t *testing.T, url, transport string) bytesocket.Socket {
	t.Helper()
	s, err := dial(t, url, transport)
	if err != nil {
		t.Fatalf("%s: %v", transport, err)
	}
	return s
}

func wantRefused(t *testing.T, err error, status int, reason string) {
	t.Helper()
	var se *client.StatusError
	if !errors.As(err, &se) || se.Code != status || !strings.HasPrefix(se.Reason, "ferry: "+reason) {
		t.Fatalf("err %v, want %d %q", err, status, reason)
	}
}

// wantRetryAfter checks a raw POST open's refusal headers.
func wantRetryAfter(t *testing.T, url string, status int, retry string) {
	t.Helper()
	resp, err := http.Post(url+"/.ferry/open", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != status || resp.Header.Get("Retry-After") != retry {
		t.Fatalf("open: %d Retry-After %q, want %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), status, retry)
	}
}

// waitSessions waits until the service holds n emulated sessions.
func waitSessions(t *testing.T, svc *server.Service, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); svc.Sessions() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sessions = %d, want %d", svc.Sessions(), n)
		}
	}
}

func TestMaxSessionsCountsEveryCarrier(t *testing.T) {
	g := server.NewGateway(nil, nil)
	svc := g.Handle("/svc", server.ServiceConfig{Emulation: emulation.Config{MaxSessions: 2, Heartbeat: fastHeartbeat.Heartbeat}}, server.Echo)
	g.Handle("/other", server.ServiceConfig{Emulation: fastHeartbeat}, server.Echo)
	ts := httptest.NewServer(g)
	defer ts.Close()
	other := mustDial(t, ts.URL+"/other", client.WebSocket)
	defer closeAndWait(t, other)
	plain := mustDial(t, ts.URL+"/svc", client.Plain)
	sse := mustDial(t, ts.URL+"/svc", client.SSE)
	for _, tr := range []string{client.WebSocket, client.SSE, client.LongPoll, client.Plain} {
		_, err := dial(t, ts.URL+"/svc", tr)
		wantRefused(t, err, 503, "too many sessions")
	}
	echoOnce(t, other, "still here")
	echoOnce(t, sse, "still here")
	echoOnce(t, plain, "still here")
	closeAndWait(t, sse)
	waitSessions(t, svc, 0)
	s := mustDial(t, ts.URL+"/svc", client.LongPoll)
	echoOnce(t, s, "still here")
	closeAndWait(t, s)
	_ = plain.Close(bytesocket.StatusNormalClosure, "")
}

func TestSessionsPerIP(t *testing.T) {
	g := server.NewGateway(nil, nil)
	svc := g.Handle("/svc", server.ServiceConfig{Limits: server.Limits{SessionsPerIP: 2}, Emulation: fastHeartbeat}, server.Echo)
	ts := httptest.NewServer(g)
	defer ts.Close()
	a := mustDial(t, ts.URL+"/svc", client.WebSocket)
	b := mustDial(t, ts.URL+"/svc", client.SSE)
	for _, tr := range []string{client.WebSocket, client.SSE, client.Plain} {
		_, err := dial(t, ts.URL+"/svc", tr)
		wantRefused(t, err, 429, "too many sessions from this address")
	}
	wantRetryAfter(t, ts.URL+"/svc", 429, "5")
	echoOnce(t, a, "still here")
	echoOnce(t, b, "still here")
	closeAndWait(t, b)
	waitSessions(t, svc, 1)
	c := mustDial(t, ts.URL+"/svc", client.Plain)
	echoOnce(t, c, "still here")
	closeAndWait(t, a)
	_ = c.Close(bytesocket.StatusNormalClosure, "")
}

func TestHandshakeRate(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{Limits: server.Limits{HandshakeRate: 0.5, HandshakeBurst: 2, Now: clock.Now}, Emulation: fastHeartbeat}, server.Echo)
	ts := httptest.NewServer(g)
	defer ts.Close()
	a := mustDial(t, ts.URL+"/svc", client.SSE)
	b := mustDial(t, ts.URL+"/svc", client.WebSocket)
	_, err := dial(t, ts.URL+"/svc", client.Plain)
	wantRefused(t, err, 429, "too many handshakes")
	wantRetryAfter(t, ts.URL+"/svc", 429, "2")
	clock.Advance(time.Second)
	wantRetryAfter(t, ts.URL+"/svc", 429, "1")
	echoOnce(t, a, "still here") // the session's own requests are not handshakes
	echoOnce(t, b, "still here")
	clock.Advance(time.Second)
	c := mustDial(t, ts.URL+"/svc", client.LongPoll)
	echoOnce(t, c, "still here")
	for _, s := range []bytesocket.Socket{a, b, c} {
		closeAndWait(t, s)
	}
}

// TestNativeMessageLimit checks that Emulation.MaxMessageBytes applies to
// the plain WebSocket too.
func TestNativeMessageLimit(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{Emulation: emulation.Config{MaxMessageBytes: 1024}}, server.Echo)
	ts := httptest.NewServer(g)
	defer ts.Close()
	s := mustDial(t, ts.URL+"/svc", client.Plain)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Write(ctx, bytesocket.Binary, bytes.Repeat([]byte{1}, 1024)); err != nil {
		t.Fatal(err)
	}
	if _, p, err := s.Read(ctx); err != nil || len(p) != 1024 {
		t.Fatalf("echo at the limit: %d %v", len(p), err)
	}
	if err := s.Write(ctx, bytesocket.Binary, bytes.Repeat([]byte{1}, 1025)); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Read(ctx)
	var ce bytesocket.CloseError
	if !errors.As(err, &ce) || ce.Code != bytesocket.StatusMessageTooBig {
		t.Fatalf("read after oversized message: %v, want close 1009", err)
	}
}
