package bytesocket_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
)

// The deadline tests run in a synctest bubble: time only moves when every
// goroutine is blocked, so "a Read blocked until its deadline" is exact.

// wantTimeout fails unless err is what a passed deadline must give.
func wantTimeout(t *testing.T, op string, n int, err error) {
	t.Helper()
	if n != 0 || !isTimeout(err) {
		t.Fatalf("%s = %d, %v; want 0 and a timeout wrapping os.ErrDeadlineExceeded", op, n, err)
	}
}

// block fills the Pipe so that the next Write through c waits for peer.
func block(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := c.Write(make([]byte, 4<<20)); err != nil { // over the Pipe's 1 MiB: admitted alone
		t.Fatal(err)
	}
}

func TestNetConnPastDeadline(t *testing.T) {
	c, peer := pipeConn(t, context.Background(), bytesocket.Binary)
	write(t, peer, "kept")
	_ = c.SetDeadline(time.Now().Add(-time.Second))
	n, err := c.Read(make([]byte, 8))
	wantTimeout(t, "Read past the deadline", n, err)
	n, err = c.Write([]byte("dropped"))
	wantTimeout(t, "Write past the deadline", n, err)

	_ = c.SetDeadline(time.Time{})
	buf := make([]byte, 8)
	if n, err := c.Read(buf); string(buf[:n]) != "kept" || err != nil {
		t.Errorf("Read after clearing the deadline = %q, %v; want the message sent before", buf[:n], err)
	}
	if _, err := c.Write([]byte("sent")); err != nil {
		t.Fatal(err)
	}
	expectRead(t, peer, bytesocket.Binary, "sent")
}

func TestNetConnDeadlineInterruptsRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, peer := pipeConn(t, t.Context(), bytesocket.Binary)
		done := make(chan error)
		go func() {
			n, err := c.Read(make([]byte, 1))
			if n != 0 {
				err = errors.New("read data")
			}
			done <- err
		}()
		synctest.Wait() // Read is blocked
		_ = c.SetReadDeadline(time.Now().Add(-time.Second))
		wantTimeout(t, "blocked Read when the deadline moved to the past", 0, <-done)

		_ = c.SetReadDeadline(time.Time{})
		write(t, peer, "x")
		if n, err := c.Read(make([]byte, 1)); n != 1 || err != nil {
			t.Errorf("Read after clearing the deadline = %d, %v", n, err)
		}
	})
}

func TestNetConnDeadlineInterruptsWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, peer := pipeConn(t, t.Context(), bytesocket.Binary)
		block(t, c)
		done := make(chan error)
		go func() {
			n, err := c.Write([]byte("dropped"))
			if n != 0 {
				err = errors.New("wrote data")
			}
			done <- err
		}()
		synctest.Wait() // Write is blocked
		_ = c.SetWriteDeadline(time.Now().Add(-time.Second))
		wantTimeout(t, "blocked Write when the deadline moved to the past", 0, <-done)

		_ = c.SetWriteDeadline(time.Time{})
		if _, p, err := peer.Read(context.Background()); len(p) != 4<<20 || err != nil {
			t.Fatalf("peer's Read = %d bytes, %v", len(p), err)
		}
		if _, err := c.Write([]byte("sent")); err != nil {
			t.Fatal(err)
		}
		expectRead(t, peer, bytesocket.Binary, "sent") // not "dropped"
	})
}

func TestNetConnDeadlineFires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := pipeConn(t, t.Context(), bytesocket.Binary)
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(time.Second))
		n, err := c.Read(make([]byte, 1))
		wantTimeout(t, "blocked Read", n, err)
		if d := time.Since(start); d != time.Second {
			t.Errorf("blocked Read returned after %v, want 1s", d)
		}

		block(t, c)
		_ = c.SetWriteDeadline(start.Add(2 * time.Second))
		n, err = c.Write([]byte("x"))
		wantTimeout(t, "blocked Write", n, err)
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("blocked Write returned after %v, want 2s", d)
		}
	})
}

func TestNetConnDeadlineMoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, peer := pipeConn(t, t.Context(), bytesocket.Binary)
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(time.Second))
		done := make(chan error)
		go func() {
			_, err := c.Read(make([]byte, 1))
			done <- err
		}()
		synctest.Wait()
		_ = c.SetReadDeadline(start.Add(3 * time.Second)) // extended while blocked
		wantTimeout(t, "Read", 0, <-done)
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("Read returned after %v, want 3s (the extended deadline)", d)
		}

		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		go func() {
			_, err := c.Read(make([]byte, 1))
			done <- err
		}()
		synctest.Wait()
		_ = c.SetReadDeadline(time.Time{}) // cleared while blocked
		time.Sleep(5 * time.Second)
		write(t, peer, "x")
		if err := <-done; err != nil {
			t.Errorf("Read with the deadline cleared = %v", err)
		}
	})
}

func TestNetConnCloseInterrupts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := pipeConn(t, t.Context(), bytesocket.Binary)
		block(t, c)
		done := make(chan error, 2)
		go func() {
			_, err := c.Read(make([]byte, 1))
			done <- err
		}()
		go func() {
			_, err := c.Write([]byte("x"))
			done <- err
		}()
		synctest.Wait() // both blocked
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-done; !errors.Is(err, net.ErrClosed) {
				t.Errorf("blocked call after Close = %v, want net.ErrClosed", err)
			}
		}
	})
}
