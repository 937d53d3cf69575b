package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/internal/faultproxy"
	"github.com/ferrygw/ferry/server"
)

// The idle test runs 10 times faster than the situation it stands for: a
// middlebox that kills any connection or response idle for 30 s, Ferry's
// heartbeat under that, and a session left idle for 2 minutes.
const (
	idleCut              = 3 * time.Second  // the proxy cuts what is idle this long (30 s)
	idleHeartbeat        = time.Second      // the gateway's heartbeat, well inside the cut
	idleControlHeartbeat = 6 * time.Second  // the control's heartbeat, longer than the cut
	idleFor              = 12 * time.Second // how long the session stays idle (2 min)
)

// idlePage is Idle.state() of chaos.js.
type idlePage struct {
	Opened     int      `json:"opened"`
	Errors     int      `json:"errors"`
	Closes     int      `json:"closes"`
	Close      *closeEv `json:"close"`
	Transports []string `json:"transports"`
	Transport  string   `json:"transport"`
	ReadyState int      `json:"readyState"`
	Echoes     []string `json:"echoes"`
	Counts     struct {
		WebSockets        int `json:"websockets"`
		WebSocketDrops    int `json:"websocketDrops"`
		EventSources      int `json:"eventSources"`
		EventSourceErrors int `json:"eventSourceErrors"`
		Requests          int `json:"requests"`
		RequestErrors     int `json:"requestErrors"`
	} `json:"counts"`
}

// broken counts the carriers the network broke under the session.
func (p idlePage) broken() int {
	return p.Counts.WebSocketDrops + p.Counts.EventSourceErrors + p.Counts.RequestErrors
}

// TestIdle puts a proxy that cuts every connection idle for idleCut
// between a page (from the pages origin) and a gateway, and leaves a
// session idle for idleFor on each transport. The scale is 10 times
// shorter than the real case: a 30 s idle cut, a session idle for 2
// minutes, and a heartbeat inside the cut (here 1 s rather than the
// default 25 s scaled to 2.5 s, for a margin on a loaded machine).
//
// With the heartbeat inside the cut, the carrier is never idle long
// enough: the network breaks nothing under the session (no WebSocket
// drop, event-stream error or failed request), the page sees no error or
// close event, and an echo works at the end.
//
// The control runs the same with a heartbeat longer than the cut
// (idleControlHeartbeat): the proxy must cut carriers, which proves it
// cuts, and the session must still survive, resuming invisibly to the
// page.
//
// The six sessions idle side by side, so the test takes idleFor once.
func TestIdle(t *testing.T) {
	needBrowser(t)
	var runs []*idleRun
	for _, tr := range []string{"websocket", "sse", "longpoll"} {
		for _, control := range []bool{false, true} {
			runs = append(runs, startIdle(t, tr, control))
		}
	}
	time.Sleep(idleFor) // every session has been idle since its first echo
	for _, r := range runs {
		t.Run(r.name, r.check)
	}
}

// idleRun is one idle session: a gateway, the idle-cutting proxy in front
// of it, and a tab.
type idleRun struct {
	name      string
	transport string
	control   bool
	hb        time.Duration
	proxy     *faultproxy.Proxy
	tb        *tab
	before    idlePage // the page after its first echo
	start     time.Time
}

// startIdle opens the session of one case and echoes once.
func startIdle(t *testing.T, transport string, control bool) *idleRun {
	r := &idleRun{name: transport, transport: transport, control: control, hb: idleHeartbeat, start: time.Now()}
	if control {
		r.name += "-control"
		r.hb = idleControlHeartbeat
	}
	g := server.NewGateway([]string{env.pagesURL}, logger())
	g.Handle("/echo", server.ServiceConfig{Emulation: emulation.Config{Heartbeat: r.hb}}, server.Echo)
	var err error
	r.proxy, err = faultproxy.NewFaulty(serveLoopback(t, g), faultproxy.Faults{Idle: idleCut})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.proxy.Close() })
	r.tb = newTab(t)
	r.tb.open(env.pagesURL + "/e2e/chaos.html")
	params, _ := json.Marshal(map[string]any{"url": "ws://" + r.proxy.Addr() + "/echo", "transports": []string{transport}})
	eval[any](r.tb, fmt.Sprintf("Idle.start(%s), 0", params))
	st := pollPage[idlePage](r.tb, "Idle.state()", 30*time.Second, func(p idlePage) bool { return p.Opened > 0 || p.Closes > 0 })
	if st.Opened != 1 {
		t.Fatalf("%s: socket did not open: %+v", r.name, st)
	}
	if r.before = r.echo("before"); r.before.Closes > 0 {
		t.Fatalf("%s: closed before the idle period: %+v", r.name, r.before)
	}
	return r
}

// echo sends text and waits for its echo (or a close).
func (r *idleRun) echo(text string) idlePage {
	eval[any](r.tb, fmt.Sprintf("Idle.send(%q), 0", text))
	return pollPage[idlePage](r.tb, "Idle.state()", 60*time.Second, func(p idlePage) bool {
		return p.Closes > 0 || (len(p.Echoes) > 0 && p.Echoes[len(p.Echoes)-1] == text)
	})
}

// check echoes after the idle period, closes, and checks the case.
func (r *idleRun) check(t *testing.T) {
	r.tb.t = t // the tab now reports to this subtest
	st := r.echo("after")
	eval[any](r.tb, "Idle.close(), 0")
	end := pollPage[idlePage](r.tb, "Idle.state()", 30*time.Second, func(p idlePage) bool { return p.Closes > 0 })

	s := r.proxy.Stats()
	broken := st.broken() - r.before.broken()
	t.Logf("%s, heartbeat %v, idle %v behind a %v idle cut: %d connections, %d idle cuts; carriers broken under the session "+
		"while idle: %d WebSocket drops, %d event-stream errors, %d failed requests; transports %v; %v",
		r.transport, r.hb, idleFor, idleCut, s.Conns, s.IdleCuts,
		st.Counts.WebSocketDrops-r.before.Counts.WebSocketDrops, st.Counts.EventSourceErrors-r.before.Counts.EventSourceErrors,
		st.Counts.RequestErrors-r.before.Counts.RequestErrors, st.Transports, time.Since(r.start).Round(100*time.Millisecond))

	if len(st.Echoes) != 2 || st.Echoes[1] != "after" {
		t.Errorf("echoes %q, want [before after]", st.Echoes)
	}
	if st.Errors != 0 || st.Closes != 0 {
		t.Errorf("page saw %d error and %d close events while idle (close %+v); want none", st.Errors, st.Closes, st.Close)
	}
	if end.Close == nil || *end.Close != (closeEv{1000, "done", true}) {
		t.Errorf("page's close event: %+v, want 1000 done clean", end.Close)
	}
	if len(st.Transports) != 1 || st.Transports[0] != r.transport {
		t.Errorf("transports %v, want only %s", st.Transports, r.transport)
	}
	if !r.control && broken != 0 {
		t.Errorf("the idle cut broke %d carriers under the session despite the heartbeat", broken)
	}
	if r.control && (s.IdleCuts == 0 || broken == 0) {
		t.Errorf("control: %d idle cuts, %d carriers broken; want the proxy to cut the carrier (heartbeat %v > cut %v)",
			s.IdleCuts, broken, r.hb, idleCut)
	}
}
