package faultproxy

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoServer echoes every connection until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func newFaulty(t *testing.T, f Faults) *Proxy {
	t.Helper()
	p, err := NewFaulty(echoServer(t), f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// exchange writes 1000 bytes in 10-byte writes, reading the echo of each,
// and returns the first error.
func exchange(c net.Conn) error {
	buf := make([]byte, 10)
	for range 100 {
		if _, err := c.Write([]byte("0123456789")); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
	}
	return nil
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestResetPeer(t *testing.T) {
	p := newFaulty(t, Faults{ResetPeer: 1, MaxOffset: 500})
	err := exchange(dial(t, p))
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("got %v, want a connection reset", err)
	}
	if s := p.Stats(); s.Resets != 1 || s.Conns != 1 || p.Cuts() != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLimitData(t *testing.T) {
	events := make(chan Event, 10)
	p := newFaulty(t, Faults{LimitData: 1, MaxOffset: 500, OnEvent: func(e Event) { events <- e }})
	err := exchange(dial(t, p))
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want EOF", err)
	}
	e := <-events
	if s := p.Stats(); s.Limits != 1 || e.Kind != LimitData || e.Offset > 500 || !strings.HasPrefix(e.Head, "0123456789") {
		t.Fatalf("stats %+v, event %+v", s, e)
	}
}

func TestTimeoutHeld(t *testing.T) {
	ended := make(chan Event, 1)
	p := newFaulty(t, Faults{Timeout: 1, MaxOffset: 500, Hold: 200 * time.Millisecond, OnEvent: func(e Event) {
		if e.Ended {
			ended <- e
		}
	}})
	start := time.Now()
	err := exchange(dial(t, p))
	if !errors.Is(err, io.EOF) || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("got %v after %v, want EOF after the hold", err, time.Since(start))
	}
	if e := <-ended; e.ByPeer || e.Held < 200*time.Millisecond {
		t.Fatalf("stall ended %+v, want by the proxy at Hold", e)
	}
	if s := p.Stats(); s.Timeouts != 1 || s.TimeoutsByPeer != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTimeoutEndedByPeer(t *testing.T) {
	ended := make(chan Event, 1)
	p := newFaulty(t, Faults{Timeout: 1, MaxOffset: 500, Hold: time.Minute, OnEvent: func(e Event) {
		if e.Ended {
			ended <- e
		}
	}})
	c := dial(t, p)
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if err := exchange(c); !errors.Is(err, syscall.ETIMEDOUT) && !isTimeout(err) {
		t.Fatalf("got %v, want a read timeout (the stall)", err)
	}
	c.Close() // the client notices the silence and gives up
	select {
	case e := <-ended:
		if !e.ByPeer {
			t.Fatalf("stall ended %+v, want by the peer", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stall did not end when the client closed")
	}
	if s := p.Stats(); s.TimeoutsByPeer != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestIdleCut(t *testing.T) {
	p := newFaulty(t, Faults{Idle: 200 * time.Millisecond})
	c := dial(t, p)
	for range 5 { // busy: never idle for long
		if err := exchange(c); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := p.Stats().IdleCuts; n != 0 {
		t.Fatalf("%d idle cuts of a busy connection", n)
	}
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want EOF", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("cut after %v idle", d)
	}
	if s := p.Stats(); s.IdleCuts != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestSetFaultsArmsOpenConnections checks that a connection opened before
// the faults were set gets one too.
func TestSetFaultsArmsOpenConnections(t *testing.T) {
	p := newFaulty(t, Faults{})
	c := dial(t, p)
	if err := exchange(c); err != nil {
		t.Fatal(err)
	}
	p.SetFaults(Faults{LimitData: 1, MaxOffset: 100})
	if err := exchange(c); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want EOF", err)
	}
	if s := p.Stats(); s.Limits != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestNewCuts checks New's behaviour, which server/chaos_test.go uses.
func TestNewCuts(t *testing.T) {
	p, err := New(echoServer(t), 300)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := exchange(dial(t, p)); err == nil {
		t.Fatal("exchange of 2000 bytes survived a cut within 300")
	}
	p.SetMaxCut(0)
	if err := exchange(dial(t, p)); err != nil {
		t.Fatalf("without cuts: %v", err)
	}
	if p.Cuts() != 1 || p.Conns() != 2 {
		t.Fatalf("cuts %d conns %d", p.Cuts(), p.Conns())
	}
}

// TestStallBackpressure checks that a stalled connection stops reading
// from the server, so the server's writes block, while it still drops
// what the client sends; and that Close ends a stall that has no hold.
func TestStallBackpressure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	wrote := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			wrote <- err
			return
		}
		defer c.Close()
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		chunk := make([]byte, 16<<10)
		for sent := 0; sent < 64<<20; {
			n, err := c.Write(chunk)
			sent += n
			if err != nil {
				wrote <- err
				return
			}
		}
		wrote <- errors.New("64 MiB went into a stalled connection")
	}()
	p, err := NewFaulty(ln.Addr().String(), Faults{Timeout: 1, MaxOffset: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	if _, err := c.Write(make([]byte, 1<<20)); err != nil { // dropped, not blocked
		t.Fatalf("client write: %v", err)
	}
	if err := <-wrote; !isTimeout(err) {
		t.Fatalf("server write: %v, want a timeout", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs on a stalled connection")
	}
	if s := p.Stats(); s.Timeouts != 1 {
		t.Fatalf("stats %+v", s)
	}
}
