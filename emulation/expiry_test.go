package emulation

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
)

// TestAbandonedSessionsReclaimed opens 10,000 sessions whose clients never
// come back and checks that all expire: registry empty, handler goroutines
// gone, and each handler saw close 1006.
func TestAbandonedSessionsReclaimed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10000
		codes := make(chan bytesocket.StatusCode, n)
		sv := &Server{
			Config: Config{ResumeTimeout: 30 * time.Second},
			Accept: func(s *Session) {
				_, _, err := s.Read(context.Background())
				codes <- bytesocket.CloseStatus(err)
			},
		}
		sv.Init()
		req := httptest.NewRequest("POST", "/echo/.ferry/open", nil)
		for range n {
			if _, err := sv.NewSession(req, ""); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if got := sv.Store.Len(); got != n {
			t.Fatalf("live sessions = %d, want %d", got, n)
		}
		if g := sessionGoroutines(); g != n {
			t.Fatalf("%d session goroutines before expiry, want %d", g, n)
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if got := sv.Store.Len(); got != n {
			t.Fatalf("sessions expired early: %d live", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := sv.Store.Len(); got != 0 {
			t.Fatalf("live sessions after the resume timeout = %d, want 0", got)
		}
		if g := sessionGoroutines(); g != 0 {
			t.Fatalf("%d goroutines started by the session code are still alive, want 0", g)
		}
		for range n {
			if c := <-codes; c != bytesocket.StatusAbnormalClosure {
				t.Fatalf("handler saw close %d, want 1006", c)
			}
		}
	})
}

// sessionGoroutines counts live goroutines started by this package's
// non-test code (handler runs, expiry callbacks). Counting them by stack
// rather than with runtime.NumGoroutine keeps the runtime's own
// goroutines, such as the finalizer goroutine while it is running, out
// of the figure.
func sessionGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		i := strings.Index(g, "created by ")
		if i < 0 {
			continue
		}
		creator := g[i+len("created by "):]
		if strings.HasPrefix(creator, "github.com/ferrygw/ferry/emulation.") ||
			strings.HasPrefix(creator, "time.goFunc") && strings.Contains(g, "ferrygw/ferry/emulation.") {
			count++
		}
	}
	return count
}

// TestHeldSessionDoesNotExpire checks that a carrier holding the session
// keeps it alive past the timeout, and that expiry restarts on release.
func TestHeldSessionDoesNotExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sv := &Server{Config: Config{ResumeTimeout: 10 * time.Second}}
		s, err := sv.NewSession(httptest.NewRequest("POST", "/", nil), "")
		if err != nil {
			t.Fatal(err)
		}
		s.Hold()
		time.Sleep(time.Minute)
		synctest.Wait()
		if sv.Store.Len() != 1 {
			t.Fatal("held session expired")
		}
		s.Release()
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if sv.Store.Len() != 0 {
			t.Fatal("released session did not expire")
		}
	})
}
