package server

import (
	"strconv"
	"testing"
	"time"
)

// TestLimiterEvictsIdleAddresses checks that per-address state does not
// grow without bound: an address with no sessions and a full bucket is
// forgotten, on release or by the sweep that runs as the map doubles.
func TestLimiterEvictsIdleAddresses(t *testing.T) {
	now := time.Unix(1e9, 0)
	lm := newLimiter(1<<20, Limits{SessionsPerIP: 5, HandshakeRate: 1, HandshakeBurst: 1,
		Now: func() time.Time { return now }})
	open := func(ip string) {
		if rf := lm.handshake(ip); rf != nil {
			t.Fatal(rf.reason)
		}
		if rf := lm.acquire(ip); rf != nil {
			t.Fatal(rf.reason)
		}
		lm.release(ip)
	}
	for i := range 5000 {
		open("10.0." + strconv.Itoa(i))
	}
	if n := lm.entries(); n != 5000 {
		t.Fatalf("%d entries, want 5000 (each bucket is still empty)", n)
	}
	now = now.Add(time.Second) // every bucket is full again
	for i := range 4000 {
		open("10.1." + strconv.Itoa(i))
	}
	if n := lm.entries(); n != 4000 {
		t.Fatalf("%d entries, want the 5000 idle ones swept and 4000 left", n)
	}

	perIP := newLimiter(10, Limits{SessionsPerIP: 1})
	perIP.acquire("10.2.0.1")
	perIP.release("10.2.0.1")
	if n := perIP.entries(); n != 0 {
		t.Fatalf("%d entries after the only session ended, want 0", n)
	}
}
