//go:build unix

package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// The resource-exhaustion suite: attacks against an echo service with the
// default configuration (server.DefaultConfig's /echo, served by
// Gateway.Serve on a real loopback listener, so the hand-back listener and
// net/http settings are production's), while one canary session per
// carrier echoes a message every few milliseconds. Each attack checks its
// own expectation; the harness checks that no canary failed, lost or
// reordered a message, that the attack's sessions go away, and that the
// live heap returns to its level before the attack, and logs what the
// attack cost the server.
//
// Only timers are shortened, never limits: the resume timeout (so attack
// sessions expire within the run) and, where the gateway exposes them, the
// idle and upload timeouts (looked up by name, see exKnobs).
const (
	exResume      = 2 * time.Second // the service's resume timeout
	exIdle        = time.Second     // idle keep-alive timeout, if settable
	exUpload      = time.Second     // upload (body read) timeout, if settable
	exSlack       = 8 << 20         // heap allowed above baseline after an attack
	exAmplify     = 10              // most live heap per byte an attacker sent
	exCanaryEvery = 5 * time.Millisecond
	exStall       = 10 * time.Second // a canary echo slower than this fails
	exCPUBudget   = 4 * time.Second  // most CPU a single attack request may be predicted to cost
)

// exKnobs names the timer fields the suite shortens if they exist. They
// are looked up by name so that the suite builds and runs both before the
// fixes that add them (the attacks that need them then skip, saying so)
// and after; once the fixes are in, plain assignments can replace this.
var exKnobs = struct{ idle, upload string }{
	idle:   "IdleTimeout",   // server.Gateway: keep-alive idle timeout
	upload: "UploadTimeout", // emulation.Config: time a POST body may take
}

func TestExhaustion(t *testing.T) {
	e := startExhaustion(t)
	attacks := []struct {
		name string
		run  func(*exAttack)
	}{
		{"smuggle-poll-content-length", func(a *exAttack) { exSmugglePoll(a, false) }},
		{"smuggle-poll-chunked", func(a *exAttack) { exSmugglePoll(a, true) }},
		{"empty-frames-post", exEmptyFramesPost},
		{"empty-frames-ferry-websocket", exEmptyFramesWS},
		{"subprotocols-open", func(a *exAttack) { exSubprotocolCost(a, exOpenRequest) }},
		{"subprotocols-native-upgrade", func(a *exAttack) { exSubprotocolCost(a, exUpgradeRequest("/echo")) }},
		{"subprotocols-ferry-upgrade", func(a *exAttack) { exSubprotocolCost(a, exUpgradeRequest("/echo/.ferry/ws")) }},
		{"header-retention", exHeaderRetention},
		{"idle-connections", exIdleConnections},
		{"slow-upload", exSlowUpload},
	}
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) { e.run(t, at.run) })
	}
}

// exEnv is the server under attack and its canaries.
type exEnv struct {
	addr     string
	g        *server.Gateway
	svc      *server.Service
	idle     string // the idle-timeout knob set, or ""
	upload   string // the upload-timeout knob set, or ""
	canaries []*exCanary
}

func startExhaustion(t *testing.T) *exEnv {
	// server.DefaultConfig()'s echo service, as Build mounts it, with a
	// short resume timeout.
	spec := server.DefaultConfig().Services[0]
	emu := emulation.Config{ResumeTimeout: exResume}
	e := &exEnv{g: server.NewGateway(server.DefaultConfig().Origins, nil)}
	e.upload = exSetDuration(&emu, exUpload, exKnobs.upload)
	e.svc = e.g.Handle(spec.Path, server.ServiceConfig{Protocols: spec.Protocols, Transports: spec.Transports, Emulation: emu}, server.Echo)
	e.idle = exSetDuration(e.g, exIdle, exKnobs.idle)
	t.Logf("knobs: resume timeout %v; idle timeout %s; upload timeout %s", exResume, exOrNone(e.idle, exIdle), exOrNone(e.upload, exUpload))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.g.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, c := range e.canaries {
			wg.Go(c.stop)
		}
		wg.Wait()
		cancel()
		<-served
	})
	for _, tr := range []string{client.WebSocket, client.SSE, client.LongPoll} {
		c, err := exStartCanary(e.url(), tr)
		if err != nil {
			t.Fatalf("canary %s: %v", tr, err)
		}
		e.canaries = append(e.canaries, c)
	}
	return e
}

func exOrNone(knob string, d time.Duration) string {
	if knob == "" {
		return "not settable"
	}
	return fmt.Sprintf("%v (%s)", d, knob)
}

// exSetDuration sets the time.Duration field name of the struct *v to d
// and returns "Type.Field", or "" if there is no such field.
func exSetDuration(v any, d time.Duration, name string) string {
	s := reflect.ValueOf(v).Elem()
	f := s.FieldByName(name)
	if !f.IsValid() || !f.CanSet() || f.Type() != reflect.TypeFor[time.Duration]() {
		return ""
	}
	f.SetInt(int64(d))
	return s.Type().Name() + "." + name
}

func (e *exEnv) url() string { return "http://" + e.addr + "/echo" }

// run runs one attack and the checks every attack shares.
func (e *exEnv) run(t *testing.T, f func(*exAttack)) {
	e.reviveCanaries(t)
	for _, c := range e.canaries {
		c.mark()
	}
	a := &exAttack{t: t, e: e, sessions0: e.svc.Sessions()}
	a.begin()
	defer e.after(a)
	f(a)
}

// after logs what the attack cost, then checks the canaries, that the
// attack's sessions went away and that the heap came back.
func (e *exEnv) after(a *exAttack) {
	t := a.t
	a.snapshot() // what the attack's connections and sessions still hold
	a.stopSampling()
	a.closeConns()
	cpu := exCPUTime() - a.cpu0
	grew, inuse, sent := a.retained(), a.peakInuse.Load()-a.base.inuse, a.sent.Load()
	perByte := ""
	if sent >= 64<<10 { // below that the ratios are noise
		perByte = fmt.Sprintf(" (%.1f B retained, %.1f B in use per B sent)", float64(grew)/float64(sent), float64(inuse)/float64(sent))
	}
	t.Logf("cost: sent %s on %d connections; peak live heap +%s, peak heap in use +%s%s; goroutines +%d; process CPU %v (canaries included)",
		exSize(sent), a.dials.Load(), exSize(grew), exSize(inuse), perByte, a.peakG.Load()-int64(a.base.goroutines), cpu.Round(time.Millisecond))
	for _, c := range e.canaries {
		c.check(t)
	}
	e.waitSessions(t, a.sessions0)
	e.waitBaseline(t, a.base)
}

// reviveCanaries replaces canaries that died in an earlier attack, so that
// each attack is watched by three live ones.
func (e *exEnv) reviveCanaries(t *testing.T) {
	for i, c := range e.canaries {
		if c.failure() == nil {
			continue
		}
		c.stop()
		n, err := exStartCanary(e.url(), c.transport)
		if err != nil {
			t.Fatalf("canary %s cannot be restarted: %v", c.transport, err)
		}
		e.canaries[i] = n
	}
}

// waitSessions waits until no more sessions are live than were before
// the attack: every session an attack opened must expire within the
// resume timeout once nothing holds it.
func (e *exEnv) waitSessions(t *testing.T, before int) {
	t.Helper()
	wait := exResume + 5*time.Second
	for deadline := time.Now().Add(wait); e.svc.Sessions() > before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("%d sessions live %v after the attack, %d before it: the attack's sessions outlived the %v resume timeout",
				e.svc.Sessions(), wait, before, exResume)
			return
		}
	}
}

// waitBaseline waits until the live heap and the heap in use are back
// within exSlack of base.
func (e *exEnv) waitBaseline(t *testing.T, base exMem) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := exSampleMem()
		ok := m.live <= base.live+exSlack && m.inuse <= base.inuse+exSlack
		if ok || time.Now().After(deadline) {
			msg := fmt.Sprintf("heap after the attack: live %s (baseline %s, %+d B), in use %s (baseline %s, %+d B), goroutines %d (baseline %d)",
				exSize(m.live), exSize(base.live), m.live-base.live, exSize(m.inuse), exSize(base.inuse), m.inuse-base.inuse, m.goroutines, base.goroutines)
			if !ok {
				t.Errorf("%s: want both within %s of the baseline", msg, exSize(exSlack))
			} else {
				t.Log(msg)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sessionsBy counts the service's sessions on a transport, from the
// gateway's own metrics.
func (e *exEnv) sessionsBy(transport string) int {
	rec := httptest.NewRecorder()
	e.g.Metrics.ServeHTTP(rec, nil)
	prefix := `ferry_sessions{service="/echo",transport="` + transport + `"} `
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// ---------------------------------------------------------------------
// The attacker's side: counted connections and memory measurements.

// exAttack is one attack's state: what it sent and what the server held.
type exAttack struct {
	t         *testing.T
	e         *exEnv
	sessions0 int          // live sessions before the attack
	sent      atomic.Int64 // bytes written by the attacker
	dials     atomic.Int64

	mu    sync.Mutex // guards conns
	conns []net.Conn

	base      exMem
	cpu0      time.Duration
	peakLive  atomic.Int64
	peakInuse atomic.Int64
	peakG     atomic.Int64
	stopS     chan struct{}
	sampled   chan struct{}
}

// begin takes the baseline and starts sampling; an attack calls it again
// after preparing its payload so that the payload is not counted.
func (a *exAttack) begin() {
	a.stopSampling()
	a.base = exSampleMem()
	a.cpu0 = exCPUTime()
	a.peakLive.Store(a.base.live)
	a.peakInuse.Store(a.base.inuse)
	a.peakG.Store(int64(a.base.goroutines))
	a.stopS, a.sampled = make(chan struct{}), make(chan struct{})
	go a.sample(a.stopS, a.sampled)
}

// sample records the peak live heap (as of each GC), heap in use and
// goroutines every few milliseconds without stopping the world.
func (a *exAttack) sample(stop, done chan struct{}) {
	defer close(done)
	s := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		metrics.Read(s)
		exStoreMax(&a.peakLive, int64(s[0].Value.Uint64()))
		exStoreMax(&a.peakInuse, int64(s[1].Value.Uint64()+s[2].Value.Uint64()))
		exStoreMax(&a.peakG, int64(s[3].Value.Uint64()))
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

func (a *exAttack) stopSampling() {
	if a.stopS != nil {
		close(a.stopS)
		<-a.sampled
		a.stopS = nil
	}
}

// snapshot collects garbage and records the live heap: called while the
// server still holds what the attack left it.
func (a *exAttack) snapshot() exMem {
	m := exSampleMem()
	exStoreMax(&a.peakLive, m.live)
	return m
}

// retained is the peak live heap growth so far.
func (a *exAttack) retained() int64 { return a.peakLive.Load() - a.base.live }

// checkAmplification fails the attack if the server held more than
// exAmplify bytes per byte sent.
func (a *exAttack) checkAmplification(what string) {
	a.t.Helper()
	sent, grew, inuse := a.sent.Load(), a.retained(), a.peakInuse.Load()-a.base.inuse
	ratio := float64(grew) / float64(max(sent, 1))
	a.t.Logf("%s: sent %s; live heap grew by up to %s (%.1f B retained per B sent), heap in use by up to %s", what, exSize(sent), exSize(grew), ratio, exSize(inuse))
	if ratio > exAmplify {
		a.t.Errorf("%s: live heap grew by %s for %s sent, %.1f B per B (heap in use +%s); want at most %d B per B", what, exSize(grew), exSize(sent), ratio, exSize(inuse), exAmplify)
	}
}

func (a *exAttack) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	a.dials.Add(1)
	cc := &exCountedConn{Conn: c, n: &a.sent}
	a.mu.Lock()
	a.conns = append(a.conns, cc)
	a.mu.Unlock()
	return cc, nil
}

// dial opens a raw connection to the server.
func (a *exAttack) dial() net.Conn {
	a.t.Helper()
	c, err := a.dialContext(context.Background(), "tcp", a.e.addr)
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

func (a *exAttack) closeConns() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.conns {
		c.Close()
	}
	a.conns = nil
}

// httpClient sends well-formed requests on counted connections, without
// keep-alive.
func (a *exAttack) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: a.dialContext}, Timeout: 30 * time.Second}
}

// open opens a session with POST open and returns its id.
func (a *exAttack) open(header http.Header) string {
	a.t.Helper()
	req, _ := http.NewRequest("POST", a.e.url()+"/.ferry/open", nil)
	exCopyHeader(req.Header, header)
	resp, err := a.httpClient().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var info wire.OpenInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != 200 {
		a.t.Fatalf("open: %d %v", resp.StatusCode, err)
	}
	return info.Session
}

func exCopyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// post POSTs body to a path of the service and returns the answer.
func (a *exAttack) post(path, body string) (int, string) {
	a.t.Helper()
	resp, err := a.httpClient().Post(a.e.url()+path, "text/plain;charset=UTF-8", strings.NewReader(body))
	if err != nil {
		a.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// exchange writes a hand-made request on a new connection and returns the
// answer's status (0 if the server dropped the connection without one);
// the connection is closed afterwards.
func (a *exAttack) exchange(req string) (int, error) {
	c := a.dial()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, werr := io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, errors.Join(werr, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, nil
}

type exCountedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *exCountedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

type exMem struct {
	live, inuse, stack int64
	goroutines         int
}

func exSampleMem() exMem {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return exMem{int64(ms.HeapAlloc), int64(ms.HeapInuse), int64(ms.StackInuse), runtime.NumGoroutine()}
}

func exStoreMax(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// exCPUTime is the process's user plus system CPU time. It counts the whole
// process: the attacker's side and the canaries too.
func exCPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func exSize(n int64) string {
	switch {
	case n >= 1<<20 || n <= -1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 || n <= -1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// exResponse is one response read off a raw connection.
type exResponse struct {
	status int
	body   string
}

func (r exResponse) String() string { return fmt.Sprintf("%d %q", r.status, exTrim(r.body, 60)) }

func exTrim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// exReadResponses reads responses from c until it fails, and reports whether
// the server closed the connection (rather than the read deadline ending
// the wait).
func exReadResponses(c net.Conn) (resps []exResponse, closed bool) {
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return resps, !errors.Is(err, os.ErrDeadlineExceeded)
		}
		b, err := io.ReadAll(resp.Body)
		resps = append(resps, exResponse{resp.StatusCode, string(b)})
		if err != nil {
			return resps, !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
}

// ---------------------------------------------------------------------
// Canaries.

// exCanary is a session that echoes a numbered message every exCanaryEvery
// and checks that every echo comes back, once, in order, within exStall.
type exCanary struct {
	transport string
	s         bytesocket.Socket
	cancel    context.CancelFunc
	loops     sync.WaitGroup
	sent      atomic.Int64
	echoed    atomic.Int64
	maxLat    atomic.Int64 // nanoseconds, since mark
	echoed0   int64        // echoed at mark

	mu  sync.Mutex // guards err
	err error
}

func exStartCanary(url, transport string) (*exCanary, error) {
	ctx, cancel := context.WithTimeout(context.Background(), exStall)
	defer cancel()
	s, err := client.Dial(ctx, url, &client.Options{Transport: transport})
	if err != nil {
		return nil, err
	}
	c := &exCanary{transport: transport, s: s}
	ctx, c.cancel = context.WithCancel(context.Background())
	c.loops.Add(2)
	go c.writeLoop(ctx)
	go c.readLoop(ctx)
	return c, nil
}

func (c *exCanary) writeLoop(ctx context.Context) {
	defer c.loops.Done()
	tick := time.NewTicker(exCanaryEvery)
	defer tick.Stop()
	for i := int64(1); ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		msg := fmt.Sprintf("%d %d", i, time.Now().UnixNano())
		wctx, cancel := context.WithTimeout(ctx, exStall)
		err := c.s.Write(wctx, bytesocket.Text, []byte(msg))
		cancel()
		if err != nil {
			c.fail(ctx, fmt.Errorf("write of message %d: %w", i, err))
			return
		}
		c.sent.Store(i)
	}
}

func (c *exCanary) readLoop(ctx context.Context) {
	defer c.loops.Done()
	for want := int64(1); ; want++ {
		rctx, cancel := context.WithTimeout(ctx, exStall)
		typ, p, err := c.s.Read(rctx)
		cancel()
		if err != nil {
			c.fail(ctx, fmt.Errorf("no echo of message %d within %v (%d sent): %w", want, exStall, c.sent.Load(), err))
			return
		}
		var n, ts int64
		if _, err := fmt.Sscanf(string(p), "%d %d", &n, &ts); err != nil || typ != bytesocket.Text || n != want {
			c.fail(ctx, fmt.Errorf("echo %q (type %v) arrived when message %d was due: lost, duplicated or reordered", p, typ, want))
			return
		}
		exStoreMax(&c.maxLat, time.Since(time.Unix(0, ts)).Nanoseconds())
		c.echoed.Store(want)
	}
}

func (c *exCanary) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // stopped
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

func (c *exCanary) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *exCanary) mark() {
	c.echoed0 = c.echoed.Load()
	c.maxLat.Store(0)
}

// check fails t if the canary failed; otherwise it waits until every
// message sent so far has come back and logs the canary's figures.
func (c *exCanary) check(t *testing.T) {
	t.Helper()
	target := c.sent.Load()
	deadline := time.Now().Add(exStall)
	for c.echoed.Load() < target && c.failure() == nil && time.Now().Before(deadline) {
		time.Sleep(exCanaryEvery)
	}
	if err := c.failure(); err != nil {
		t.Errorf("canary %s failed: %v", c.transport, err)
		return
	}
	if got := c.echoed.Load(); got < target {
		t.Errorf("canary %s: %d of %d messages echoed %v after the attack", c.transport, got, target, exStall)
		return
	}
	t.Logf("canary %s: %d echoes in order, slowest %v, %d resumes so far", c.transport, c.echoed.Load()-c.echoed0,
		time.Duration(c.maxLat.Load()).Round(time.Millisecond), c.s.(*client.Conn).Resumes())
}

func (c *exCanary) stop() {
	c.cancel()
	c.loops.Wait()
	_ = c.s.Close(bytesocket.StatusNormalClosure, "")
	select {
	case <-c.s.(*client.Conn).Done():
	case <-time.After(time.Second):
	}
}

// ---------------------------------------------------------------------
// Attacks.

// exSmugglePoll sends a long-poll GET with a body that is itself a request,
// on a keep-alive connection, and makes the poll wait (so it is taken off
// net/http) before it is answered. The body must never be served as a
// request: the GET gets one answer, 400, and the connection is closed.
func exSmugglePoll(a *exAttack, chunked bool) {
	t, addr := a.t, a.e.addr
	sid := a.open(nil)
	smuggled := "GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	req := "GET /echo/.ferry/" + sid + "/poll?last=0 HTTP/1.1\r\nHost: " + addr + "\r\n"
	if chunked {
		req += fmt.Sprintf("Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)
	} else {
		req += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(smuggled), smuggled)
	}
	polls := a.e.sessionsBy("longpoll")
	c := a.dial()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	var resps []exResponse
	var closed bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		resps, closed = exReadResponses(c)
	}()
	// Once the poll is attached and waiting (or already answered), give
	// it a frame to answer with, then read what else the connection says.
	held := exWaitFor(3*time.Second, done, func() bool { return a.e.sessionsBy("longpoll") > polls })
	if st, body := a.post("/.ferry/"+sid+"/send?seq=1", "tsmuggle\n"); st != 200 {
		t.Logf("send to wake the poll: %d %q", st, body)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	<-done
	t.Logf("poll held before the wake-up: %v; %d responses on the connection: %v; closed by the server: %v", held, len(resps), resps, closed)
	for _, r := range resps {
		if r.status == 200 && r.body == "ok\n" {
			t.Errorf("the GET's body was served as a second request: /healthz answered on the poll's connection (responses %v)", resps)
		}
	}
	if len(resps) != 1 || resps[0].status != 400 || !strings.HasPrefix(resps[0].body, "ferry: ") {
		t.Errorf("responses %v, want exactly one: 400 \"ferry: ...\" for a GET with a body", resps)
	}
	if !closed {
		t.Errorf("the connection was still open 2s after the answers; want it closed after the 400")
	}
}

// exWaitFor polls cond every few milliseconds until it holds, done is
// closed, or d passes, and reports whether cond held.
func exWaitFor(d time.Duration, done <-chan struct{}, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		select {
		case <-done:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return false
}

// exEmptyFramesPost sends 1,048,576 empty text frames in one POST to a
// session that never acknowledges: the echo handler's writes stop at the
// retention window, so every frame stays queued. The live heap must stay
// within exAmplify bytes per byte sent.
func exEmptyFramesPost(a *exAttack) {
	const n = 1 << 20
	body := strings.Repeat("t\n", n)
	sid := a.open(nil)
	a.begin()
	status, resp := a.post("/.ferry/"+sid+"/send?seq=1", body)
	a.snapshot() // the session still holds what the POST delivered
	a.t.Logf("POST of %d empty frames: %d %q", n, status, exTrim(resp, 80))
	if status != 200 && status != 413 {
		a.t.Errorf("POST of %d empty frames: %d %q, want 200 or 413", n, status, resp)
	}
	a.checkAmplification(fmt.Sprintf("%d empty frames in one POST", n))
}

// exEmptyFramesWS sends 200,000 empty text messages on a Ferry WebSocket and
// never acknowledges the echoes. The live heap must stay within exAmplify
// bytes per byte sent; the server may close the session instead.
func exEmptyFramesWS(a *exAttack) {
	const n = 200000
	t := a.t
	frames := bytes.Repeat([]byte{0x81, 0x80, 0, 0, 0, 0}, n) // masked (key 0), empty, text
	d := websocket.Dialer{NetDialContext: a.dialContext, HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.Dial("ws://"+a.e.addr+"/echo/.ferry/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if typ, p, err := conn.ReadMessage(); err != nil || typ != websocket.BinaryMessage || !bytes.HasPrefix(p, []byte{1, 'o'}) {
		t.Fatalf("first message %d %q %v, want the o frame", typ, p, err)
	}
	pong := make(chan struct{}, 1)
	conn.SetPongHandler(func(string) error {
		select {
		case pong <- struct{}{}:
		default:
		}
		return nil
	})
	ended := make(chan error, 1)
	go func() { // read and drop the echoes, never acknowledging them
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				ended <- err
				return
			}
		}
	}()
	a.begin()
	nc := conn.NetConn()
	_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	written := make(chan error, 1)
	go func() {
		_, err := nc.Write(frames)
		if err == nil {
			_, err = nc.Write([]byte{0x89, 0x80, 0, 0, 0, 0}) // a ping: its pong means the server read everything before it
		}
		written <- err
	}()
	select {
	case <-pong:
		t.Logf("%d empty messages written; the server read them all", n)
	case err := <-ended:
		t.Logf("%d empty messages: the server ended the connection after %s: %v", n, exSize(a.sent.Load()), err)
	case <-time.After(5 * time.Second):
		t.Logf("%d empty messages: no pong 5s after %s written (write: %v): the server stopped reading", n, exSize(a.sent.Load()), exChanErr(written))
	}
	a.snapshot()
	a.checkAmplification(fmt.Sprintf("%d empty Ferry WebSocket messages", n))
}

// exChanErr returns the error sent on c, or "pending" if none was yet.
func exChanErr(c <-chan error) any {
	select {
	case err := <-c:
		return err
	default:
		return "pending"
	}
}

// exRequestFor builds a request offering a subprotocol list.
type exRequestFor func(addr, list string) string

func exOpenRequest(addr, list string) string {
	return "POST /echo/.ferry/open?protocols=" + list + " HTTP/1.1\r\nHost: " + addr +
		"\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
}

func exUpgradeRequest(path string) exRequestFor {
	return func(addr, list string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: " + list + "\r\n\r\n"
	}
}

func exProtocolList(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("p" + strconv.Itoa(i))
	}
	return b.String()
}

// exSubprotocolCost measures the CPU per request offering 10, 1,000,
// 4,000 and 40,000 distinct subprotocols. The cost may grow at most
// linearly with the list (40,000 tokens at most 4,000 times the cost of
// 10), or the server may refuse long lists (414/431/400). The 40,000-token
// request is only sent if it is predicted to cost less than exCPUBudget,
// so that a quadratic parser cannot stall the suite.
func exSubprotocolCost(a *exAttack, build exRequestFor) {
	t := a.t
	bg := exBackgroundCPU()
	t.Logf("background (canaries): %.0f%% of a core, subtracted below", 100*bg)
	const small = 10
	req := build(a.e.addr, exProtocolList(small))
	unit, st := a.cpuPerRequest(req, 100, bg)
	t.Logf("%6d tokens (%s request): %v CPU per request, status %d", small, exSize(int64(len(req))), unit, st)
	costs := map[int]time.Duration{}
	for _, n := range []int{1000, 4000, 40000} {
		if n == 40000 {
			if p := exPredictCost(costs[1000], costs[4000]); p > exCPUBudget {
				t.Errorf("%d tokens not sent: 1,000 cost %v and 4,000 cost %v CPU per request, which predicts %v for %d (budget %v): superlinear",
					n, costs[1000], costs[4000], p.Round(time.Millisecond), n, exCPUBudget)
				return
			}
		}
		req := build(a.e.addr, exProtocolList(n))
		cost, st := a.cpuPerRequest(req, max(2, 10000/n), bg)
		costs[n] = cost
		ratio := float64(cost) / float64(unit)
		bound := float64(n) / small
		t.Logf("%6d tokens (%s request): %v CPU per request, status %d, %.1f× the %d-token request (linear bound %.0f×)",
			n, exSize(int64(len(req))), cost, st, ratio, small, bound)
		if ratio > bound {
			t.Errorf("%d tokens cost %v CPU, %.0f× the %d-token request's %v; want at most %.0f× (linear) or a quick refusal (status %d)",
				n, cost, ratio, small, unit, bound, st)
		}
	}
}

// exPredictCost predicts the cost of 40,000 tokens from the costs of 1,000
// (c1) and 4,000 (c4). Quadratic growth from c4 is the worst case; only if
// that is over budget is the growth estimated from the two (small costs
// are too noisy to estimate it from), as a power law at least linear.
func exPredictCost(c1, c4 time.Duration) time.Duration {
	if p := 100 * c4; p <= exCPUBudget {
		return p
	}
	k := math.Log(float64(c4)/float64(c1)) / math.Log(4)
	return time.Duration(float64(c4) * math.Pow(10, max(k, 1)))
}

// exBackgroundCPU measures the process's CPU use, in cores, while only the
// canaries run.
func exBackgroundCPU() float64 {
	runtime.GC()
	c0, w0 := exCPUTime(), time.Now()
	time.Sleep(300 * time.Millisecond)
	return float64(exCPUTime()-c0) / float64(time.Since(w0))
}

// cpuPerRequest sends req reps times, each on its own connection, and
// returns the process CPU per request, less bg cores over the time it
// took (at least 1µs), and the last status. The attacker's side of each
// request is included.
func (a *exAttack) cpuPerRequest(req string, reps int, bg float64) (time.Duration, int) {
	runtime.GC()
	c0, w0 := exCPUTime(), time.Now()
	st := 0
	for range reps {
		var err error
		if st, err = a.exchange(req); err != nil {
			a.t.Logf("request of %s: no answer: %v", exSize(int64(len(req))), err)
		}
	}
	cpu := exCPUTime() - c0 - time.Duration(bg*float64(time.Since(w0)))
	return max(cpu/time.Duration(reps), time.Microsecond), st
}

// exHeaderRetention opens sessions with large request headers, as 58
// values of 1,000 bytes (59 KB) and as 2,000 tiny fields (20 KB), and
// measures what each session retains against sessions opened with
// ordinary headers: the retained copy must be capped. 100 sessions per
// kind, not fewer, so that the canaries' churn averages out. A 1 MiB
// header must be refused with 431.
func exHeaderRetention(a *exAttack) {
	t := a.t
	const n = 100
	var values, fields strings.Builder
	for i := range 58 {
		fmt.Fprintf(&values, "X-Pad-%02d: %s\r\n", i, strings.Repeat("a", 1000))
	}
	for i := range 2000 {
		fmt.Fprintf(&fields, "X%04d: v\r\n", i)
	}
	per := func(extra string) (int64, time.Duration) {
		a.e.waitSessions(t, a.sessions0) // the previous kind's sessions are gone
		req := exWithHeaders(exOpenRequest(a.e.addr, ""), extra)
		before, cpu0 := exSampleMem(), exCPUTime()
		for range n {
			if st, err := a.exchange(req); st != 200 {
				t.Fatalf("open with %s of headers: %d %v", exSize(int64(len(extra))), st, err)
			}
		}
		cpu := (exCPUTime() - cpu0) / n
		return (a.snapshot().live - before.live) / n, cpu
	}
	plain, plainCPU := per("")
	for _, k := range []struct{ name, h string }{{"58 values of 1,000 bytes", values.String()}, {"2,000 tiny fields", fields.String()}} {
		got, cpu := per(k.h)
		t.Logf("per session: live heap %s and %v CPU with ordinary headers, %s and %v CPU with %s of headers as %s (%+d B)",
			exSize(plain), plainCPU, exSize(got), cpu, exSize(int64(len(k.h))), k.name, got-plain)
		if got-plain > 16<<10 {
			t.Errorf("a session opened with %s of headers as %s retains %s more than one opened without (%s vs %s); want the retained copy capped (at most 16 KiB more)",
				exSize(int64(len(k.h))), k.name, exSize(got-plain), exSize(got), exSize(plain))
		}
	}
	st, err := a.exchange(exWithHeaders(exOpenRequest(a.e.addr, ""), "X-Big: "+strings.Repeat("b", 1<<20)+"\r\n"))
	t.Logf("open with a 1 MiB header: status %d %v", st, err)
	if st != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("open with a 1 MiB header: status %d (%v), want 431", st, err)
	}
}

// exWithHeaders adds header lines (each ending in CRLF) to a request.
func exWithHeaders(req, lines string) string {
	head, body, _ := strings.Cut(req, "\r\n\r\n")
	return head + "\r\n" + lines + "\r\n" + body
}

// exIdleConnections makes one request on each of 200 connections and leaves
// them idle: the server must close them after its idle timeout.
func exIdleConnections(a *exAttack) {
	t := a.t
	const n = 200
	conns := make([]net.Conn, n)
	for i := range conns {
		c := a.dial()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+a.e.addr+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conns[i] = c
	}
	m := a.snapshot()
	t.Logf("%d idle keep-alive connections: live heap +%s (%s each), stacks +%s, goroutines +%d",
		n, exSize(m.live-a.base.live), exSize((m.live-a.base.live)/n), exSize(m.stack-a.base.stack), m.goroutines-a.base.goroutines)
	if a.e.idle == "" {
		open := exCountOpen(conns, time.Now().Add(500*time.Millisecond))
		t.Skipf("no idle timeout knob (server.Gateway.%s): %d of %d idle keep-alive connections still held after 0.5 s; without an http.Server.IdleTimeout net/http holds them until the client leaves",
			exKnobs.idle, open, n)
	}
	wait := exIdle + 3*time.Second
	open := exCountOpen(conns, time.Now().Add(wait))
	t.Logf("%d of %d connections still open after waiting up to %v (idle timeout %v)", open, n, wait, exIdle)
	if open > 0 {
		t.Errorf("%d of %d idle keep-alive connections still open %v after going idle; want all closed by the %v idle timeout (%s)", open, n, wait, exIdle, a.e.idle)
	}
}

// exCountOpen reads each connection until deadline and counts those the
// server did not close.
func exCountOpen(conns []net.Conn, deadline time.Time) int {
	open := 0
	var b [1]byte
	for _, c := range conns {
		_ = c.SetReadDeadline(deadline)
		if _, err := c.Read(b[:]); errors.Is(err, os.ErrDeadlineExceeded) {
			open++
		}
	}
	return open
}

// exSlowUpload sends a POST send declaring 1,000 bytes at one byte per
// 100 ms: the server must stop reading after its upload timeout, and the
// session must then expire after its resume timeout.
func exSlowUpload(a *exAttack) {
	t := a.t
	sid := a.open(nil)
	c := a.dial()
	head := "POST /echo/.ferry/" + sid + "/send?seq=1 HTTP/1.1\r\nHost: " + a.e.addr +
		"\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 1000\r\n\r\nt"
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	var resps []exResponse
	done := make(chan struct{})
	go func() {
		defer close(done)
		resps, _ = exReadResponses(c)
	}()
	limit := exUpload + 3*time.Second
	if a.e.upload == "" {
		limit = exResume + time.Second // long enough to outlive the resume timeout
	}
	start := time.Now()
	sent, werr := exTrickle(c, 999, limit, done)
	took := time.Since(start).Round(10 * time.Millisecond)
	ended := exClosed(done)
	if a.e.upload == "" {
		live := a.e.svc.Sessions()
		t.Skipf("no upload timeout knob (emulation.Config.%s): after %v the server was still reading a 1 B/100 ms body (%d of 1000 bytes, ended %v), holding its session past the %v resume timeout (%d sessions live, %d before the attack)",
			exKnobs.upload, took, sent+1, ended, exResume, live, a.sessions0)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	<-done
	t.Logf("server stopped the upload after %v and %d of 1000 bytes (write error %v); responses %v", took, sent+1, werr, resps)
	if !ended && werr == nil {
		t.Errorf("server still reading the body after %v and %d of 1000 bytes; want it cut off by the %v upload timeout (%s)", took, sent+1, exUpload, a.e.upload)
	}
	c.Close()
	deadline := time.Now().Add(exResume + 3*time.Second)
	for a.e.svc.Sessions() > a.sessions0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := a.e.svc.Sessions(); n > a.sessions0 {
		t.Errorf("the slow upload's session still live %v after the upload ended (%d sessions, %d before the attack); want it expired after the %v resume timeout",
			exResume+3*time.Second, n, a.sessions0, exResume)
	}
}

// exTrickle writes up to n bytes, one per 100 ms, until limit passes, a
// write fails, or done is closed, and returns how many it wrote.
func exTrickle(c net.Conn, n int, limit time.Duration, done <-chan struct{}) (int, error) {
	deadline := time.Now().Add(limit)
	i := 0
	for ; i < n && time.Now().Before(deadline); i++ {
		select {
		case <-done:
			return i, nil
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := c.Write([]byte{'x'}); err != nil {
			return i, err
		}
	}
	return i, nil
}

func exClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
