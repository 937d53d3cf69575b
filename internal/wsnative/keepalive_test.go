package wsnative

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
)

const heartbeat = 25 * time.Second

// watch reads the server's frames in the bubble and reports when each
// ping arrived (since start); answer makes it reply with a pong.
func watch(c *rawClient, start time.Time, answer bool) <-chan time.Duration {
	pings := make(chan time.Duration, 100)
	go func() {
		defer close(pings)
		for {
			op, p, err := c.read()
			if err != nil {
				return
			}
			if op != opPing {
				continue
			}
			pings <- time.Since(start)
			if answer && c.write(opPong, p) != nil {
				return
			}
		}
	}()
	return pings
}

func collect(pings <-chan time.Duration) []time.Duration {
	var got []time.Duration
	for d := range pings {
		got = append(got, d)
	}
	return got
}

// TestKeepAliveSilentPeer: a peer that answers nothing is pinged after a
// heartbeat of silence and lost (1006) a heartbeat later.
func TestKeepAliveSilentPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, c := acceptPipe(t, heartbeat)
		pings := watch(c, start, false)
		_, _, err := s.Read(context.Background())
		if got := bytesocket.CloseStatus(err); got != bytesocket.StatusAbnormalClosure {
			t.Errorf("Read: %v; want close 1006", err)
		}
		if d := time.Since(start); d != 2*heartbeat {
			t.Errorf("lost after %v; want %v", d, 2*heartbeat)
		}
		finish(s, c)
		if got := collect(pings); len(got) != 1 || got[0] != heartbeat {
			t.Errorf("pings at %v; want one at %v", got, heartbeat)
		}
	})
}

// TestKeepAliveAnsweringPeer: a peer that answers pings stays open, pinged
// once per heartbeat.
func TestKeepAliveAnsweringPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, c := acceptPipe(t, heartbeat)
		pings := watch(c, start, true)
		errc := readAll(s)
		time.Sleep(20*heartbeat + heartbeat/2)
		select {
		case err := <-errc:
			t.Fatalf("Read failed: %v", err)
		default:
		}
		finish(s, c)
		got := collect(pings)
		if len(got) != 20 {
			t.Errorf("%d pings: %v; want 20", len(got), got)
		}
		for i, d := range got {
			if want := time.Duration(i+1) * heartbeat; d != want {
				t.Errorf("ping %d at %v; want %v", i, d, want)
			}
		}
	})
}

// TestKeepAliveBusyPeer: a peer that sends more often than the heartbeat
// is never pinged.
func TestKeepAliveBusyPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, c := acceptPipe(t, heartbeat)
		pings := watch(c, start, false)
		errc := readAll(s)
		for range 40 {
			time.Sleep(heartbeat / 2)
			if err := c.write(opText, []byte("tick")); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case err := <-errc:
			t.Fatalf("Read failed: %v", err)
		default:
		}
		finish(s, c)
		if got := collect(pings); len(got) != 0 {
			t.Errorf("pinged at %v; want never", got)
		}
	})
}

// TestKeepAliveSlowMessage: bytes of a message still arriving count as
// an answer, so a large message sent slowly is not cut off.
func TestKeepAliveSlowMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, c := acceptPipe(t, heartbeat)
		pings := watch(c, start, false)
		msg := make([]byte, 100<<10)
		go func() {
			// One frame, 1 KiB every 10 s: it takes 1000 s.
			_ = c.send(frame(opText, msg), 1<<10, 10*time.Second)
		}()
		typ, p, err := s.Read(context.Background())
		if err != nil || typ != bytesocket.Text || len(p) != len(msg) {
			t.Fatalf("Read: %v, %d bytes, %v", typ, len(p), err)
		}
		finish(s, c)
		if got := collect(pings); len(got) != 0 {
			t.Errorf("pinged at %v; want never", got)
		}
	})
}

// TestKeepAliveUnreadMessage: while the application has not read a
// message the peer is not pinged (its pong would wait behind the
// message), and the connection stays open.
func TestKeepAliveUnreadMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, c := acceptPipe(t, heartbeat)
		pings := watch(c, start, false)
		if err := c.write(opText, []byte("unread")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * heartbeat)
		if _, p, err := s.Read(context.Background()); err != nil || string(p) != "unread" {
			t.Fatalf("Read: %q, %v", p, err)
		}
		// Reading restarts the count: silent from now, the peer is lost
		// two heartbeats later.
		read := time.Now()
		if _, _, err := s.Read(context.Background()); bytesocket.CloseStatus(err) != bytesocket.StatusAbnormalClosure {
			t.Errorf("Read: %v; want close 1006", err)
		}
		if d := time.Since(read); d != 2*heartbeat {
			t.Errorf("lost %v after the read; want %v", d, 2*heartbeat)
		}
		finish(s, c)
		if got := collect(pings); len(got) != 1 || got[0] != 10*heartbeat+heartbeat {
			t.Errorf("pings at %v; want one at %v", got, 11*heartbeat)
		}
	})
}

// TestKeepAliveOff: a zero heartbeat never pings.
func TestKeepAliveOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, c := acceptPipe(t, 0)
		pings := watch(c, start, false)
		errc := readAll(s)
		time.Sleep(100 * heartbeat)
		select {
		case err := <-errc:
			t.Fatalf("Read failed: %v", err)
		default:
		}
		finish(s, c)
		if got := collect(pings); len(got) != 0 {
			t.Errorf("pinged at %v; want never", got)
		}
	})
}
