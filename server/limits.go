package server

import (
	"context"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limits bounds how many sessions a service holds and how fast one client
// address may open them. The zero value imposes no per-address limits.
// The service-wide session cap (Emulation.MaxSessions, default 100,000)
// and the message size cap (Emulation.MaxMessageBytes, default 16 MiB)
// live in ServiceConfig.Emulation and apply to every carrier, the plain
// WebSocket included.
//
// Client addresses are the connection's remote IP (r.RemoteAddr);
// forwarding headers are not trusted.
type Limits struct {
	// SessionsPerIP caps the live sessions opened from one IP address;
	// more are refused with 429. 0 means no limit.
	SessionsPerIP int
	// HandshakeRate is the sustained number of session-opening requests
	// (native upgrades, Ferry WebSocket opens, POST open) allowed per IP
	// address per second, as a token bucket; more are refused with 429
	// and a Retry-After header. 0 means no limit.
	HandshakeRate float64
	// HandshakeBurst is the bucket's size: how many handshakes one
	// address may make at once. 0 means max(1, ceil(HandshakeRate)).
	HandshakeBurst int
	// Now returns the current time for the rate limiter; nil means
	// time.Now. Tests inject a fake clock.
	Now func() time.Time
}

// limiter enforces a service's session cap and its Limits.
type limiter struct {
	max     int
	perIP   int
	rate    float64 // tokens per second; 0: no rate limit
	burst   float64
	now     func() time.Time
	mu      sync.Mutex // guards everything below
	total   int
	ips     map[string]*ipState
	sweepAt int // sweep idle entries when len(ips) reaches it
}

// ipState is one address's live sessions and token bucket.
type ipState struct {
	sessions int
	tokens   float64
	at       time.Time // when tokens was computed
}

func newLimiter(max int, l Limits) *limiter {
	lm := &limiter{max: max, perIP: l.SessionsPerIP, rate: l.HandshakeRate, now: l.Now,
		ips: make(map[string]*ipState), sweepAt: 1024}
	if lm.now == nil {
		lm.now = time.Now
	}
	if lm.rate > 0 {
		lm.burst = float64(l.HandshakeBurst)
		if lm.burst <= 0 {
			lm.burst = math.Max(1, math.Ceil(lm.rate))
		}
	}
	return lm
}

// refusal is a request refused by a limit.
type refusal struct {
	status     int
	reason     string
	retryAfter time.Duration // 0: no Retry-After
}

var (
	refuseSessions = &refusal{status: http.StatusServiceUnavailable, reason: "ferry: too many sessions"}
	refusePerIP    = &refusal{status: http.StatusTooManyRequests, reason: "ferry: too many sessions from this address", retryAfter: 5 * time.Second}
)

// handshake takes a token from ip's bucket, or says when one is due.
func (lm *limiter) handshake(ip string) *refusal {
	if lm.rate <= 0 {
		return nil
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	st := lm.state(ip)
	lm.refill(st)
	if st.tokens >= 1 {
		st.tokens--
		return nil
	}
	wait := time.Duration((1 - st.tokens) / lm.rate * float64(time.Second))
	return &refusal{status: http.StatusTooManyRequests, reason: "ferry: too many handshakes from this address", retryAfter: wait}
}

// acquire reserves a session slot for ip; release must follow once.
func (lm *limiter) acquire(ip string) *refusal {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if lm.total >= lm.max {
		return refuseSessions
	}
	if lm.perIP > 0 {
		st := lm.state(ip)
		if st.sessions >= lm.perIP {
			return refusePerIP
		}
		st.sessions++
	}
	lm.total++
	return nil
}

// release frees a slot taken by acquire.
func (lm *limiter) release(ip string) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	lm.total--
	if st := lm.ips[ip]; st != nil && lm.perIP > 0 {
		st.sessions--
		lm.evictIfIdle(ip, st)
	}
}

// state returns ip's entry, creating it (with a full bucket) and sweeping
// idle entries when the map has grown. lm.mu held.
func (lm *limiter) state(ip string) *ipState {
	if st := lm.ips[ip]; st != nil {
		return st
	}
	if len(lm.ips) >= lm.sweepAt {
		for k, st := range lm.ips {
			lm.refill(st)
			lm.evictIfIdle(k, st)
		}
		lm.sweepAt = max(1024, 2*len(lm.ips))
	}
	st := &ipState{tokens: lm.burst, at: lm.now()}
	lm.ips[ip] = st
	return st
}

// refill adds the tokens earned since st.at. lm.mu held.
func (lm *limiter) refill(st *ipState) {
	now := lm.now()
	if el := now.Sub(st.at); el > 0 {
		st.tokens = math.Min(lm.burst, st.tokens+el.Seconds()*lm.rate)
		st.at = now
	}
}

// evictIfIdle forgets an entry that holds nothing a new one would not:
// no sessions and a full bucket. lm.mu held.
func (lm *limiter) evictIfIdle(ip string, st *ipState) {
	if st.sessions == 0 && st.tokens >= lm.burst {
		delete(lm.ips, ip)
	}
}

// entries returns the number of tracked addresses.
func (lm *limiter) entries() int {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	return len(lm.ips)
}

// clientIP returns the request's remote IP address.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// slot is a session slot reserved for a request; the session created by
// the request claims it and releases it when it finishes.
type slot struct {
	lm      *limiter
	ip      string
	claimed bool // set by the handler's goroutine
}

type slotKey struct{}

// claimSlot marks the request's slot as owned by a new session and
// returns its release function (a no-op without a slot).
func claimSlot(r *http.Request) func() {
	sl, _ := r.Context().Value(slotKey{}).(*slot)
	if sl == nil || sl.claimed {
		return func() {}
	}
	sl.claimed = true
	var once sync.Once
	return func() { once.Do(func() { sl.lm.release(sl.ip) }) }
}

// limitMiddleware applies the handshake rate and reserves a session slot
// for a session-opening request; the slot is returned unless the handler
// created a session that claimed it.
func (h *Service) limitMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r)
		if rf := h.limits.handshake(ip); rf != nil {
			h.refuse(w, rf)
			return
		}
		if rf := h.limits.acquire(ip); rf != nil {
			h.refuse(w, rf)
			return
		}
		sl := &slot{lm: h.limits, ip: ip}
		defer func() {
			if !sl.claimed {
				h.limits.release(ip)
			}
		}()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), slotKey{}, sl)))
	})
}

// refuse answers a refused request and counts it.
func (h *Service) refuse(w http.ResponseWriter, rf *refusal) {
	if rf.retryAfter > 0 {
		secs := int64(math.Ceil(rf.retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	h.metrics.refuse(rf.status)
	writeStatus(w, rf.status, rf.reason)
}
