package wsnative

import (
	"sync"
	"sync/atomic"
	"time"
)

// keepAlive finds a peer that vanished without closing (a half-open
// connection): once nothing has arrived for interval it pings, and once
// nothing has arrived for a further interval after the ping it calls lost.
// Any bytes count, so a peer that keeps sending is never pinged. Its
// methods are safe from any goroutine.
type keepAlive struct {
	base   time.Time    // set before use; last and pinged count from it
	last   atomic.Int64 // when bytes last arrived
	pinged atomic.Int64 // when the last ping went out, 0 before the first
	held   atomic.Bool  // the reader is not reading; see hold

	mu       sync.Mutex // guards timer and stopped
	timer    *time.Timer
	stopped  bool
	interval time.Duration
	ping     func() error
	lost     func()
}

// start pings after interval of silence (never, if interval <= 0).
// ping may block until a write in progress ends.
func (k *keepAlive) start(interval time.Duration, ping func() error, lost func()) {
	if interval <= 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped || k.timer != nil {
		return
	}
	k.interval, k.ping, k.lost = interval, ping, lost
	k.seen()
	k.timer = time.AfterFunc(interval, k.check)
}

// seen notes that bytes arrived.
func (k *keepAlive) seen() { k.last.Store(int64(time.Since(k.base))) }

// hold(true) says the reader has stopped reading until the application
// takes a message: a pong would wait behind it, so silence proves nothing
// and the peer is not pinged. hold(false) restarts the count.
func (k *keepAlive) hold(on bool) {
	if !on {
		k.seen()
	}
	k.held.Store(on)
}

func (k *keepAlive) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = true
	if k.timer != nil {
		k.timer.Stop()
	}
}

// check runs when the timer fires: it waits for interval after the
// latest bytes, pings once silence reaches interval, and calls lost when
// the silence outlasts a ping by interval.
func (k *keepAlive) check() {
	now := int64(time.Since(k.base))
	last := k.last.Load()
	switch idle := time.Duration(now - last); {
	case k.held.Load():
		k.after(k.interval)
	case idle < k.interval:
		k.after(k.interval - idle)
	case k.pinged.Load() > last:
		k.lost()
	default:
		k.pinged.Store(now)
		k.after(k.interval) // before pinging: the ping may wait for a writer
		_ = k.ping()
	}
}

func (k *keepAlive) after(d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.stopped {
		k.timer.Reset(d)
	}
}
