package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/internal/faultproxy"
	"github.com/ferrygw/ferry/server"
)

// chaosMessages is how many messages go each way in each chaos run.
const chaosMessages = 10000

// chaosHeartbeat is the chaos gateway's heartbeat (which also bounds its
// long-poll hold). It is short so that the suite stays fast: the client
// gives up on a silent event stream or Ferry WebSocket after 2 heartbeats
// + 5 s and on a long-poll after 2 heartbeats + 10 s, so a stalled
// carrier costs about 6 s and 11 s instead of 55 s and 60 s with the
// default 25 s.
const chaosHeartbeat = 500 * time.Millisecond

// chaosHold is how long the proxy holds a stalled (timeout) connection
// before closing it: longer than the client's watchdogs above, so a
// stalled event stream, Ferry WebSocket or long-poll must be noticed by
// the client, not ended by the proxy. (A POST has no heartbeat: the page
// gives up on one after its 8 s request timeout.)
const chaosHold = 15 * time.Second

// chaosMaxOffset bounds the random byte offset at which a connection's
// fault fires.
const chaosMaxOffset = 48 << 10

// TestChaos runs a page (from the pages origin) against a gateway behind
// a fault proxy, for each transport forced, while the page and a test
// service exchange chaosMessages numbered messages each way. Every
// connection gets a fault drawn by a seeded RNG (reset_peer, limit_data or
// timeout) at a random byte offset. Both ends count what they receive:
// nothing may be lost, duplicated, reordered or altered, and the page may
// see no error or close event before its own close, which must be clean.
//
// The last case starts on a Ferry WebSocket; from the first fault on the
// network refuses WebSocket upgrades, so the session must resume on SSE,
// invisibly to the page.
//
// FERRY_CHAOS_SEED=n fixes the seed (logged on every run).
func TestChaos(t *testing.T) {
	needBrowser(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FERRY_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("FERRY_CHAOS_SEED: %v", err)
		}
	}
	t.Logf("seed %d (FERRY_CHAOS_SEED=%d reproduces the draws)", seed, seed)
	cases := []chaosCase{
		{name: "websocket", transports: []string{"websocket"}},
		{name: "sse", transports: []string{"sse"}},
		{name: "longpoll", transports: []string{"longpoll"}},
		{name: "websocket-resumes-on-sse", transports: []string{"websocket", "sse"}, refuseUpgrades: true},
	}
	var total faultproxy.Stats
	var mu sync.Mutex
	t.Run("group", func(t *testing.T) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				s := runChaos(t, tc, seed+uint64(i))
				mu.Lock()
				defer mu.Unlock()
				total.Resets += s.Resets
				total.Limits += s.Limits
				total.Timeouts += s.Timeouts
			})
		}
	})
	if !t.Failed() && (total.Resets == 0 || total.Limits == 0 || total.Timeouts == 0) {
		t.Errorf("faults over all runs: %+v; want every kind at least once", total)
	}
}

type chaosCase struct {
	name       string
	transports []string
	// refuseUpgrades: after the first fault, WebSocket upgrades get 403.
	refuseUpgrades bool
}

// chaosPage is Chaos.state() of chaos.js.
type chaosPage struct {
	N            int      `json:"n"`
	Opened       int      `json:"opened"`
	Sent         int      `json:"sent"`
	Next         int      `json:"next"`
	Received     int      `json:"received"`
	Lost         int      `json:"lost"`
	Duplicated   int      `json:"duplicated"`
	Reordered    int      `json:"reordered"`
	Corrupt      int      `json:"corrupt"`
	FirstProblem string   `json:"firstProblem"`
	ErrorsBefore int      `json:"errorsBefore"`
	ClosesBefore int      `json:"closesBefore"`
	Close        *closeEv `json:"close"`
	Transports   []string `json:"transports"`
	Transport    string   `json:"transport"`
	Buffered     int      `json:"buffered"`
	MaxBuffered  int      `json:"maxBuffered"`
	Done         bool     `json:"done"`
}

// closeEv is a close event as a page reports it.
type closeEv struct {
	Code     int    `json:"code"`
	Reason   string `json:"reason"`
	WasClean bool   `json:"wasClean"`
}

// stallLog follows the proxy's timeout faults (stalls) and the requests
// that reach the gateway, both classified by their request line: a Ferry
// WebSocket or an event stream (both watched by the client's heartbeat
// watchdog), a long-poll, or a POST. A stalled carrier is noticed when
// the client opens the next one of its kind.
type stallLog struct {
	mu       sync.Mutex
	fired    []stallFired
	ended    map[string]int // class -> stalls over
	byPeer   map[string]int // class -> stalls a peer ended before the hold ran out
	requests map[string][]time.Time
}

type stallFired struct {
	class string
	at    time.Time
}

func newStallLog() *stallLog {
	return &stallLog{ended: map[string]int{}, byPeer: map[string]int{}, requests: map[string][]time.Time{}}
}

// stallClass classifies an HTTP request line.
func stallClass(head string) string {
	method, rest, _ := strings.Cut(head, " ")
	path, _, _ := strings.Cut(rest, " ")
	path, _, _ = strings.Cut(path, "?")
	switch {
	case method == "GET" && strings.HasSuffix(path, "/ws"):
		return "websocket"
	case method == "GET" && strings.HasSuffix(path, "/sse"):
		return "sse"
	case method == "GET" && strings.HasSuffix(path, "/poll"):
		return "longpoll"
	}
	return "other (" + method + ")"
}

// note records a proxy event.
func (s *stallLog) note(ev faultproxy.Event) {
	if ev.Kind != faultproxy.Timeout {
		return
	}
	c := stallClass(ev.Head)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ev.Ended {
		s.fired = append(s.fired, stallFired{c, time.Now()})
		return
	}
	s.ended[c]++
	if ev.ByPeer {
		s.byPeer[c]++
	}
}

// watch wraps the gateway to record the requests that reach it.
func (s *stallLog) watch(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := stallClass(r.Method + " " + r.URL.Path + " HTTP/1.1")
		s.mu.Lock()
		s.requests[c] = append(s.requests[c], time.Now())
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// noticed returns, per class, how long each stall lasted until the next
// request of its class, and the stalls fired before cutoff that no such
// request followed.
func (s *stallLog) noticed(cutoff time.Time) (delays map[string][]time.Duration, missed map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delays, missed = map[string][]time.Duration{}, map[string]int{}
	for _, f := range s.fired {
		found := false
		for _, at := range s.requests[f.class] {
			if at.After(f.at) {
				delays[f.class] = append(delays[f.class], at.Sub(f.at).Round(100*time.Millisecond))
				found = true
				break
			}
		}
		if !found && f.at.Before(cutoff) {
			missed[f.class]++
		}
	}
	return delays, missed
}

func (s *stallLog) String() string {
	delays, _ := s.noticed(time.Time{})
	s.mu.Lock()
	defer s.mu.Unlock()
	fired := map[string]int{}
	for _, f := range s.fired {
		fired[f.class]++
	}
	var b strings.Builder
	for c, n := range fired {
		fmt.Fprintf(&b, " %s: %d (%d over, %d of them closed by a peer before the hold)", c, n, s.ended[c], s.byPeer[c])
		if c == "websocket" || c == "sse" || c == "longpoll" {
			fmt.Fprintf(&b, ", the client opened the next one after %v", delays[c])
		}
		b.WriteString(";")
	}
	return strings.TrimSuffix(b.String(), ";")
}

// runChaos runs one case and returns the proxy's counts.
func runChaos(t *testing.T, tc chaosCase, seed uint64) faultproxy.Stats {
	start := time.Now()
	n := chaosMessages
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	tallies := make(chan chaosTally, 4)
	g := server.NewGateway([]string{env.pagesURL}, logger())
	// Event streams and long-poll answers end after 16 KiB (not 128 KiB)
	// and the page batches at most 16 KiB per POST: a request or response
	// must fit well within the bytes a connection carries before its fault
	// (up to chaosMaxOffset) or it could never get through whole.
	cfg := server.ServiceConfig{Emulation: emulation.Config{
		Heartbeat: chaosHeartbeat, StreamBytes: 16 << 10,
	}}
	g.Handle("/chaos", cfg, chaosService(ctx, n, tallies))
	var faulted atomic.Bool // the proxy fired a fault
	stalls := newStallLog()
	var h http.Handler = g
	if tc.refuseUpgrades {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if faulted.Load() && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				http.Error(w, "the network refuses WebSocket from now on", http.StatusForbidden)
				return
			}
			g.ServeHTTP(w, r)
		})
	}
	// Refused upgrades count too: a client that tries the next WebSocket
	// after a stalled one has noticed the stall, whatever the answer.
	gwAddr := serveLoopback(t, stalls.watch(h))
	// The proxy forwards untouched until the session is open.
	proxy, err := faultproxy.NewFaulty(gwAddr, faultproxy.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })

	tb := newTab(t)
	tb.open(env.pagesURL + "/e2e/chaos.html")
	params, _ := json.Marshal(map[string]any{
		"url": "ws://" + proxy.Addr() + "/chaos", "transports": tc.transports, "n": n,
		// Resume at once after a cut, as a client that is not throttled would,
		// and give up on a silent POST after 8 s rather than 30 s (a POST has
		// no heartbeat; this keeps stalled POSTs from slowing the suite).
		"backoff": 20, "maxBackoff": 200, "maxBatchBytes": 16 << 10, "requestTimeout": 8000,
	})
	eval[any](tb, fmt.Sprintf("Chaos.start(%s), 0", params))
	st := pollPage[chaosPage](tb, "Chaos.state()", 30*time.Second, func(p chaosPage) bool { return p.Opened > 0 || p.Done })
	if st.Opened == 0 {
		t.Fatalf("socket did not open: %+v", st)
	}
	// From now on every connection, the open ones included, gets a fault
	// at a random point: 50% resets, 45% closes, 5% stalls.
	proxy.SetFaults(faultproxy.Faults{
		Seed: seed, ResetPeer: 10, LimitData: 9, Timeout: 1, MaxOffset: chaosMaxOffset,
		Hold: chaosHold, OnEvent: func(ev faultproxy.Event) {
			faulted.Store(true)
			stalls.note(ev)
		},
	})
	eval[any](tb, "Chaos.go(), 0")
	lastLog := time.Now()
	st = pollPage[chaosPage](tb, "Chaos.state()", 7*time.Minute, func(p chaosPage) bool {
		if time.Since(lastLog) > 30*time.Second {
			lastLog = time.Now()
			t.Logf("%s: sent %d, received %d, transport %s, %+v; client internals %s", tc.name, p.Sent, p.Next, p.Transport, proxy.Stats(),
				eval[string](tb, "Chaos.debug()"))
		}
		return p.Done
	})
	proxy.SetFaults(faultproxy.Faults{})
	if !st.Done {
		t.Fatalf("no close after %v: page %+v, proxy %+v", time.Since(start).Round(time.Second), st, proxy.Stats())
	}

	var srv chaosTally
	select {
	case srv = <-tallies:
	case <-time.After(30 * time.Second):
		t.Errorf("the service did not report; page %+v", st)
	}
	s := proxy.Stats()
	t.Logf("%s: %d connections; faults: %d reset_peer, %d limit_data, %d timeout; stalls:%s",
		tc.name, s.Conns, s.Resets, s.Limits, s.Timeouts, stalls)
	t.Logf("%s: page sent %d, received %d (lost %d, duplicated %d, reordered %d, corrupt %d); "+
		"server sent %d, received %d (lost %d, duplicated %d, reordered %d, corrupt %d); transports %v; %v",
		tc.name, st.Sent, st.Received, st.Lost, st.Duplicated, st.Reordered, st.Corrupt,
		srv.Sent, srv.Received, srv.Lost, srv.Duplicated, srv.Reordered, srv.Corrupt,
		st.Transports, time.Since(start).Round(time.Second))

	if st.Sent != n || st.Next != n || st.Received != n || st.Lost+st.Duplicated+st.Reordered+st.Corrupt != 0 {
		t.Errorf("page: sent %d, received %d messages up to #%d, want %d each; first problem: %s", st.Sent, st.Received, st.Next, n, st.FirstProblem)
	}
	if srv.Sent != n || srv.Next != n || srv.Received != n || srv.Lost+srv.Duplicated+srv.Reordered+srv.Corrupt != 0 {
		t.Errorf("server: sent %d, received %d messages up to #%d, want %d each; first problem: %s", srv.Sent, srv.Received, srv.Next, n, srv.FirstProblem)
	}
	if srv.WriteErr != nil {
		t.Errorf("server: write: %v", srv.WriteErr)
	}
	if st.Opened != 1 || st.ErrorsBefore != 0 || st.ClosesBefore != 0 {
		t.Errorf("page saw %d open, %d error and %d close events before closing; want 1, 0, 0", st.Opened, st.ErrorsBefore, st.ClosesBefore)
	}
	if st.Close == nil || *st.Close != (closeEv{1000, "done", true}) {
		t.Errorf("page's close event: %+v, want 1000 done clean", st.Close)
	}
	if srv.Close != bytesocket.StatusNormalClosure {
		t.Errorf("server saw close %d, want 1000", srv.Close)
	}
	if tc.refuseUpgrades {
		if len(st.Transports) < 2 || st.Transports[0] != "websocket" || st.Transports[len(st.Transports)-1] != "sse" {
			t.Errorf("transports %v, want websocket then sse", st.Transports)
		}
	} else if len(st.Transports) != 1 || st.Transports[0] != tc.transports[0] {
		t.Errorf("transports %v, want only %s", st.Transports, tc.transports[0])
	}
	if s.Resets+s.Limits+s.Timeouts < 10 {
		t.Errorf("only %d faults; the run must break at least 10 connections", s.Resets+s.Limits+s.Timeouts)
	}
	// A stalled event stream or Ferry WebSocket must be noticed by the
	// client's heartbeat watchdog: it opens the next one well before the
	// proxy would have closed the stalled connection. (Its own close of
	// the stalled one may linger: Chromium waits up to a minute for a
	// WebSocket closing handshake that cannot get through.)
	delays, missed := stalls.noticed(srv.finished.Add(-chaosHold))
	for _, c := range []string{"websocket", "sse"} {
		for _, d := range delays[c] {
			if d >= chaosHold {
				t.Errorf("a stalled %s was replaced only after %v, when the proxy had closed it: the heartbeat did not reveal the stall", c, d)
			}
		}
		if missed[c] > 0 {
			t.Errorf("%d stalled %s connections were never replaced", missed[c], c)
		}
	}
	return s
}

// pollPage evaluates expr, which returns a JSON string, every 250 ms
// until done accepts its value or guard (a hang guard) passes, and returns
// the last value.
func pollPage[T any](tb *tab, expr string, guard time.Duration, done func(T) bool) T {
	tb.t.Helper()
	deadline := time.Now().Add(guard)
	for {
		var v T
		s := eval[string](tb, expr)
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			tb.t.Fatalf("%s: %q: %v", expr, s, err)
		}
		if done(v) || time.Now().After(deadline) {
			return v
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// serveLoopback serves h on a new 127.0.0.1 port until the test ends and
// returns the address.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// chaosTokens are the pieces of text payloads; TOKENS in chaos.js.
var chaosTokens = []string{"a", "bc", "\r", "\n", "\r\n", "\\", "\\n", "\u00e9", "\U0001F600", "data: x",
	"id: 9", ":", " ", "\u2028", "\x00"}

// chaosMix is mix of chaos.js: a 32-bit hash of (a, b).
func chaosMix(a, b uint32) uint32 {
	x := a*0x9e3779b1 ^ (b+1)*0x85ebca77
	x ^= x >> 15
	x *= 0x2c1b3c6d
	x ^= x >> 12
	x *= 0x297a2d39
	x ^= x >> 15
	return x
}

// chaosPayload is payload of chaos.js: message i of direction dir (0 up,
// 1 down).
func chaosPayload(dir, i int) (bytesocket.MessageType, []byte) {
	ui, ud := uint32(i), uint32(dir)
	if chaosMix(ui, ud)%3 == 0 {
		n := chaosMix(ui, ud+2) % 48
		p := make([]byte, 5+n)
		binary.BigEndian.PutUint32(p, ui)
		p[4] = byte(dir)
		for k := range n {
			p[5+k] = byte(chaosMix(ui, 200+k))
		}
		return bytesocket.Binary, p
	}
	b := fmt.Appendf(nil, "%c%d:", "ud"[dir], i)
	n := chaosMix(ui, ud+4) % 24
	for k := range n {
		b = append(b, chaosTokens[chaosMix(ui, 100+k)%uint32(len(chaosTokens))]...)
	}
	return bytesocket.Text, b
}

// chaosTally is what the service received and sent.
type chaosTally struct {
	Received, Next, Lost, Duplicated, Reordered, Corrupt int
	FirstProblem                                         string
	Sent                                                 int
	WriteErr                                             error
	Close                                                bytesocket.StatusCode
	finished                                             time.Time // when the session ended
}

// add checks one upstream message against the next one due.
func (c *chaosTally) add(typ bytesocket.MessageType, p []byte) {
	c.Received++
	seq := -1
	if typ == bytesocket.Text {
		if num, _, ok := strings.Cut(string(p), ":"); ok && strings.HasPrefix(num, "u") {
			if v, err := strconv.Atoi(num[1:]); err == nil {
				seq = v
			}
		}
	} else if len(p) >= 5 {
		seq = int(binary.BigEndian.Uint32(p))
	}
	problem := func(s string, a ...any) {
		if c.FirstProblem == "" {
			c.FirstProblem = fmt.Sprintf(s, a...)
		}
	}
	switch {
	case seq < 0:
		c.Corrupt++
		problem("unnumbered %s message %.40q", typ, p)
	case seq == c.Next:
		if wt, wp := chaosPayload(0, seq); typ != wt || !bytes.Equal(p, wp) {
			c.Corrupt++
			problem("message %d: got %s %.40q, want %s %.40q", seq, typ, p, wt, wp)
		}
		c.Next++
	case seq < c.Next:
		c.Duplicated++
		problem("message %d again after %d", seq, c.Next-1)
	default:
		c.Lost += seq - c.Next
		c.Reordered++
		problem("message %d where %d was due", seq, c.Next)
		c.Next = seq + 1
	}
}

// chaosService returns the chaos test's service: it checks the n numbered
// messages the page sends and, from the first of them on, sends its own n
// numbered messages; when the page closes it reports to out.
func chaosService(ctx context.Context, n int, out chan<- chaosTally) func(bytesocket.Socket) {
	return func(s bytesocket.Socket) {
		var c chaosTally
		var wrote chan struct{}
		for {
			typ, p, err := s.Read(ctx)
			if err != nil {
				c.Close = bytesocket.CloseStatus(err)
				break
			}
			if wrote == nil {
				wrote = make(chan struct{})
				go func() {
					defer close(wrote)
					for i := range n {
						typ, p := chaosPayload(1, i)
						if err := s.Write(ctx, typ, p); err != nil {
							c.WriteErr = err
							return
						}
						c.Sent++
					}
				}()
			}
			c.add(typ, p)
		}
		if wrote != nil {
			<-wrote
		}
		c.finished = time.Now()
		out <- c
	}
}
