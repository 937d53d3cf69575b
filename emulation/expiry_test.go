package emulation

import (
	"context"
	"net/http/httptest"
	"runtime"
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
		base := runtime.NumGoroutine()
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
		if g := runtime.NumGoroutine(); g > base {
			t.Fatalf("goroutines = %d, want ≤ %d", g, base)
		}
		for range n {
			if c := <-codes; c != bytesocket.StatusAbnormalClosure {
				t.Fatalf("handler saw close %d, want 1006", c)
			}
		}
	})
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
