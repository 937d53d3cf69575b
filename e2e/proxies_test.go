package e2e

// Browser tests behind real proxies (network_test.go starts them):
//
//   - squid, an enterprise forward proxy with Debian's default rules:
//     CONNECT only to port 443, so a native WebSocket (which Chromium
//     tunnels through CONNECT, ws:// included) is refused, while plain
//     HTTP passes and is not buffered. Ferry must land on sse.
//   - nginx, a buffering reverse proxy that forwards no Upgrade: a
//     WebSocket handshake reaches the server as a plain GET (426 at the
//     service URL, 400 at Ferry's), and an event stream is held back until
//     a 64 KiB buffer fills or the response ends. Ferry must notice that
//     the stream's first event does not arrive and land on longpoll.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
)

// proxiedEchoCases are what every browser condition must pass behind
// each proxy (the legacy tests' list).
var proxiedEchoCases = []string{"echo-suite", "bytes-256", "unicode"}

// checkEchoCase fails t unless r is a passing result of one of
// proxiedEchoCases on transport want.
func checkEchoCase(t *testing.T, name string, r caseResult, want string) {
	t.Helper()
	if r.Error != "" {
		t.Errorf("%s: %s (partial %v)", name, r.Error, r.Partial)
		return
	}
	if len(r.Checks) == 0 {
		t.Errorf("%s: no checks", name)
	}
	for k, v := range r.Checks {
		if !legacyCheckOK(k, v) {
			t.Errorf("%s: %s = %v", name, k, v)
		}
	}
	if tr := r.Info["transport"]; tr != want {
		t.Errorf("%s: transport %v, want %s", name, tr, want)
	}
}

// refusedLog matches echo-one's log for a socket that never opened: an
// error event, then close 1006, not clean.
var refusedLog = regexp.MustCompile(`^error close:1006::false$`)

// checkRefused runs echo-one on target and checks that the socket never
// opened and reported an unclean close 1006, within the hang guard.
func checkRefused(t *testing.T, tb *tab, target string) {
	t.Helper()
	start := time.Now()
	r := tb.run(target, "echo-one", nil, 60*time.Second)
	if r.Error != "" {
		t.Fatalf("%s: %s (partial %v); want a close event", target, r.Error, r.Partial)
	}
	if log, _ := r.Checks["log"].(string); !refusedLog.MatchString(log) {
		t.Errorf("%s: events %q, want %q", target, log, refusedLog)
	}
	t.Logf("%s: refused, close event after %v", target, time.Since(start).Round(time.Millisecond))
}

// waitLog polls a proxy's access log until every pattern matches, and
// fails t with the log otherwise. Proxies write a request's line when it
// ends, and the last event stream may still be closing.
func waitLog(t *testing.T, what string, read func(*testing.T) string, patterns ...*regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		log := read(t)
		var missing []string
		for _, p := range patterns {
			if !p.MatchString(log) {
				missing = append(missing, p.String())
			}
		}
		if len(missing) == 0 {
			return log
		}
		if time.Now().After(deadline) {
			t.Errorf("%s access log lacks %q; log:\n%s", what, missing, log)
			return log
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hostPort returns the host:port of an http:// base URL.
func hostPort(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestProxiedSquid runs the browser behind squid with Debian's default
// rules: the native WebSocket and Ferry's forced websocket are refused
// (CONNECT denied) with a close event; auto lands on sse; sse and longpoll
// forced both work; and squid's access log shows that the requests really
// went through it.
func TestProxiedSquid(t *testing.T) {
	needBrowser(t)
	addr := squidAddr(t)
	main := hostPort(t, env.mainURL)
	tb := proxiedTab(t, addr)
	tb.open(env.mainURL + "/e2e/api.html")

	// auto first, in the fresh tab: nothing remembered yet, so the client
	// tries websocket first and must fall back to sse.
	t.Run("auto", func(t *testing.T) {
		for _, name := range proxiedEchoCases {
			checkEchoCase(t, name, tb.run("auto", name, nil, 60*time.Second), "sse")
		}
		if ws := tb.requestsMatching("/echo/.ferry/ws"); len(ws) == 0 {
			t.Error("auto never tried a Ferry WebSocket")
		}
		for _, r := range tb.requestsMatching("/sse") {
			if r.Type != "EventSource" {
				t.Errorf("event stream requested as %s, want EventSource: %s", r.Type, r.URL)
			}
		}
	})
	t.Run("native", func(t *testing.T) {
		checkRefused(t, tb, "native")
	})
	t.Run("websocket", func(t *testing.T) {
		checkRefused(t, tb, "websocket")
	})
	for _, tr := range []string{"sse", "longpoll"} {
		t.Run(tr, func(t *testing.T) {
			for _, name := range proxiedEchoCases {
				checkEchoCase(t, name, tb.run(tr, name, nil, 60*time.Second), tr)
			}
		})
	}

	// Squid's native log format: time elapsed client code/status bytes
	// method URL ...; squid logs URLs without their query (its default
	// strip_query_terms on).
	q := regexp.QuoteMeta
	waitLog(t, "squid", squidAccessLog,
		regexp.MustCompile(`TCP_DENIED/403 \d+ CONNECT `+q(main)+` `),
		regexp.MustCompile(`/200 \d+ GET http://`+q(main)+`/e2e/api\.html `),
		regexp.MustCompile(`/200 \d+ POST http://`+q(main)+`/echo/\.ferry/open\?? `),
		regexp.MustCompile(`/200 \d+ GET http://`+q(main)+`/echo/\.ferry/[A-Za-z0-9_-]{22}/sse\? `),
		regexp.MustCompile(`/200 \d+ POST http://`+q(main)+`/echo/\.ferry/[A-Za-z0-9_-]{22}/send\? `),
		regexp.MustCompile(`/200 \d+ GET http://`+q(main)+`/echo/\.ferry/[A-Za-z0-9_-]{22}/poll\? `),
	)
}

// TestProxiedNginx runs the browser with nginx, a buffering reverse proxy,
// as the page's origin: the native WebSocket and Ferry's forced websocket
// are refused with a close event; auto tries websocket, then sse, notices
// that the event stream is held back and lands on longpoll; longpoll
// forced works. sse forced cannot work and must end clearly (see the sse
// subtest).
func TestProxiedNginx(t *testing.T) {
	needBrowser(t)
	base := startNginx(t, env.mainURL)
	tb := newTab(t)
	tb.open(base + "/e2e/api.html")
	t.Run("auto", func(t *testing.T) {
		for _, name := range proxiedEchoCases {
			checkEchoCase(t, name, tb.run("auto", name, nil, 60*time.Second), "longpoll")
		}
		for _, want := range []struct{ path, typ string }{
			{"/echo/.ferry/ws", "WebSocket"},
			{"/sse", "EventSource"},
			{"/poll", "XHR"},
		} {
			rs := tb.requestsMatching(want.path)
			if len(rs) == 0 {
				t.Errorf("no %s request", want.path)
			}
			for _, r := range rs {
				if r.Type != want.typ {
					t.Errorf("%s requested as %s, want %s", r.URL, r.Type, want.typ)
				}
			}
		}
	})
	t.Run("native", func(t *testing.T) {
		checkRefused(t, tb, "native")
	})
	t.Run("websocket", func(t *testing.T) {
		checkRefused(t, tb, "websocket")
	})
	t.Run("longpoll", func(t *testing.T) {
		for _, name := range proxiedEchoCases {
			checkEchoCase(t, name, tb.run("longpoll", name, nil, 60*time.Second), "longpoll")
		}
	})
	t.Run("sse", nginxForcedSSE)

	// nginx's combined log: ... "METHOD URI HTTP/1.1" status bytes ...
	// The handshakes reached the server as plain GETs: 426 at the plain
	// service URL, 400 at Ferry's. The event streams the client gave up
	// on are 499 (client closed the request).
	waitLog(t, "nginx", func(t *testing.T) string { return nginxAccessLog(t, base) },
		regexp.MustCompile(`"GET /e2e/api\.html HTTP/1\.1" 200 `),
		regexp.MustCompile(`"GET /echo HTTP/1\.1" 426 `),
		regexp.MustCompile(`"GET /echo/\.ferry/ws(\?v=1)? HTTP/1\.1" 400 `),
		regexp.MustCompile(`"POST /echo/\.ferry/open\S* HTTP/1\.1" 200 `),
		regexp.MustCompile(`"GET /echo/\.ferry/[A-Za-z0-9_-]{22}/sse\?last=0 HTTP/1\.1" 499 `),
		regexp.MustCompile(`"GET /echo/\.ferry/[A-Za-z0-9_-]{22}/poll\?last=\d+ HTTP/1\.1" 200 `),
		regexp.MustCompile(`"POST /echo/\.ferry/[A-Za-z0-9_-]{22}/send\?\S+ HTTP/1\.1" 200 `),
	)
}

// shortTimers are the emulation timers of startShortGateway: a 2 s
// heartbeat (so a client gives up on a silent event stream after
// 2×2+5 = 9 s) and an 8 s resume timeout (so a session with no working
// downstream is reported lost after 8 s, not 30).
var shortTimers = emulation.Config{Heartbeat: 2 * time.Second, ResumeTimeout: 8 * time.Second}

// startShortGateway starts a gateway with the test pages, /echo and
// /burst, all with shortTimers, stopped at t.Cleanup; it returns its base
// URL.
func startShortGateway(t *testing.T) string {
	t.Helper()
	gw := server.NewGateway(nil, logger())
	cfg := server.ServiceConfig{Protocols: []string{"*"}, Emulation: shortTimers}
	gw.Handle("/echo", cfg, server.Echo)
	gw.Handle("/burst", cfg, burst)
	mux := http.NewServeMux()
	mux.Handle("/e2e/", pagesHandler(gw))
	mux.Handle("/", gw)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// burstSizes are the burst service's greeting: text messages of these
// sizes, sent as soon as a session opens. Behind nginx (64 KiB buffers,
// testdata/nginx.conf.tmpl) the first two push the first event stream
// through by volume and end it (a stream ends after 128 KiB), so sse looks
// fine; the third, larger than a buffer, starts the next stream, whose
// first 64 KiB (its "o" event included) get through while the rest of the
// message is held. Every later event stream starts with the same message,
// so every one looks fine and none ever delivers it.
var burstSizes = []int{70000, 70000, 100000}

// burstMessage is greeting message i: "b<i>:" padded with x to its size.
func burstMessage(i int) string {
	msg := fmt.Sprintf("b%d:", i)
	return msg + strings.Repeat("x", burstSizes[i]-len(msg))
}

// burst sends its greeting as soon as a session opens, then echoes.
func burst(s bytesocket.Socket) {
	ctx := context.Background()
	for i := range burstSizes {
		if err := s.Write(ctx, bytesocket.Text, []byte(burstMessage(i))); err != nil {
			return
		}
	}
	server.Echo(s)
}

// nginxForcedSSE forces sse behind the buffering nginx, in front of a
// gateway with shortTimers. By the client's design the socket opens (POST
// open gets through, and a socket is open once its session exists), but
// no event stream delivers its first event within firstEventTimeout: the
// client abandons each one, retries sse with backoff (it may use nothing
// else), and once the session has had no working downstream for
// resumeTimeoutMs reports an error and close 1006, not clean. The echo
// never arrives: the held streams are abandoned before nginx would release
// them. With the default 30 s resume timeout it is the same, later.
func nginxForcedSSE(t *testing.T) {
	base := startNginx(t, startShortGateway(t))
	tb := newTab(t)
	tb.open(base + "/e2e/api.html")
	start := time.Now()
	r := tb.run("sse", "echo-one", nil, 60*time.Second)
	if r.Error != "" {
		t.Fatalf("%s (partial %v); want a close event", r.Error, r.Partial)
	}
	if log := r.Checks["log"]; log != "open error close:1006::false" {
		t.Errorf("events %q, want %q", log, "open error close:1006::false")
	}
	if polls := tb.requestsMatching("/poll"); len(polls) > 0 {
		t.Errorf("sse forced, yet the client polled: %v", polls)
	}
	if streams := tb.requestsMatching("/sse"); len(streams) < 2 {
		t.Errorf("%d event-stream requests, want retries", len(streams))
	}
	t.Logf("sse forced behind nginx: %v after %v, %d event-stream requests", r.Checks["log"],
		time.Since(start).Round(time.Millisecond), len(tb.requestsMatching("/sse")))
}

// pushJS opens a Ferry socket to /burst and records each message (its
// prefix and length) with the transport it came on; after the greeting
// it sends one message and waits for its echo.
const pushJS = `(function (n) {
  var st = window.__push = {got: [], events: [], result: ''};
  var ws = new Ferry.WebSocket('ws://' + location.host + '/burst');
  ws.onopen = function () {
    st.events.push('open on ' + ws.transport);
  };
  ws.onmessage = function (e) {
    var d = String(e.data), i = d.indexOf(':');
    st.got.push((i > 0 ? d.slice(0, i + 1) + d.length : d) + '@' + ws.transport);
    if (st.got.length === n) {
      ws.send('after the greeting');
    } else if (d === 'after the greeting') {
      st.result = 'done';
      ws.close(1000);
    }
  };
  ws.onclose = function (e) {
    st.events.push('close ' + e.code);
    if (!st.result) {
      st.result = 'closed early';
    }
  };
}(%d)); true`

// TestProxiedNginxStall: a server that greets with a burst fools the
// buffering check behind nginx (the first event stream is pushed through
// by volume, so sse looks fine), and every later stream delivers its first
// chunk and holds the rest of a message (see burstSizes). The client must
// notice the silent stream (no heartbeat for 2×heartbeat+5 s) and move
// the session to longpoll rather than retry sse forever; there the rest
// of the greeting and the echo arrive, in order, once.
func TestProxiedNginxStall(t *testing.T) {
	needBrowser(t)
	base := startNginx(t, startShortGateway(t))
	tb := newTab(t)
	tb.open(base + "/e2e/api.html")
	start := time.Now()
	eval[bool](tb, fmt.Sprintf(pushJS, len(burstSizes)))
	st := waitState[pushState](t, tb, "window.__push", 60*time.Second)
	if st.Result != "done" {
		t.Fatalf("%s: events %v, got %d messages: %v", st.Result, st.Events, len(st.Got), st.Got)
	}
	var want []string
	for i, n := range burstSizes {
		want = append(want, fmt.Sprintf("b%d:%d", i, n))
	}
	want = append(want, "after the greeting")
	var got []string
	for _, g := range st.Got {
		msg, _, _ := strings.Cut(g, "@")
		got = append(got, msg)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("received %v\nwant     %v", got, want)
	}
	if len(st.Got) > 0 {
		if first, last := st.Got[0], st.Got[len(st.Got)-1]; !strings.HasSuffix(first, "@sse") ||
			!strings.HasSuffix(last, "@longpoll") {
			t.Errorf("first message %s, last %s: want the greeting to start on sse and the echo on longpoll", first, last)
		}
	}
	t.Logf("greeting and echo in %v; received %v; events %v", time.Since(start).Round(time.Millisecond), st.Got, st.Events)
}

// pushState is window.__push.
type pushState struct {
	Got    []string
	Events []string
	Result string
}

// waitState polls the page's JSON-able state at expr until its Result is
// set, within the hang guard, and returns it.
func waitState[T any](t *testing.T, tb *tab, expr string, limit time.Duration) T {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var st T
		raw := eval[string](tb, "JSON.stringify("+expr+")")
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var probe struct{ Result string }
		_ = json.Unmarshal([]byte(raw), &probe)
		if probe.Result != "" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no result after %v: %s", limit, raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// switchJS opens a Ferry socket with the default order behind nginx and
// sends numbered messages from the moment it opens (the session exists;
// the event stream is still being tried) until well after the client has
// switched to longpoll, noting the transport each was sent on. It also
// tries a send while CONNECTING, which must throw as on a native
// WebSocket. window.__switch.result is set once every echo is in, plus a
// second for late duplicates.
const switchJS = `(function () {
  var st = window.__switch = {sent: [], got: [], on: {}, events: [], result: ''};
  var ws = new Ferry.WebSocket('ws://' + location.host + '/echo'), n = 0, after = 0, timer;
  try {
    ws.send('too early');
    st.events.push('send while CONNECTING did not throw');
  } catch (e) {
    st.events.push('send while CONNECTING: ' + e.name);
  }
  function send() {
    var tr = ws.transport || '-', m = 'm' + (n++) + ' ' + tr;
    st.sent.push(m);
    st.on[tr] = (st.on[tr] || 0) + 1;
    ws.send(m);
  }
  function check() {
    if (st.allSent && st.got.length >= st.sent.length && !st.settling) {
      st.settling = true;
      setTimeout(function () {
        st.result = 'done';
        ws.close(1000);
      }, 1000);
    }
  }
  ws.onopen = function () {
    st.events.push('open on ' + ws.transport);
    for (var i = 0; i < 20; i++) {
      send();
    }
    timer = setInterval(function () {
      send();
      send();
      if (ws.transport === 'longpoll' && ++after >= 10) {
        clearInterval(timer);
        st.allSent = true;
        check();
      }
    }, 100);
  };
  ws.onmessage = function (e) {
    st.got.push(e.data);
    check();
  };
  ws.onclose = function (e) {
    clearInterval(timer);
    st.events.push('close ' + e.code);
    if (!st.result) {
      st.result = 'closed early';
    }
  };
}()); true`

// switchState is window.__switch.
type switchState struct {
	Sent, Got []string
	On        map[string]int
	Events    []string
	Result    string
}

// TestProxiedNginxSwitch checks that messages sent while the client falls
// back from sse to longpoll behind nginx are all delivered, in order,
// exactly once.
func TestProxiedNginxSwitch(t *testing.T) {
	needBrowser(t)
	base := startNginx(t, env.mainURL)
	tb := newTab(t) // fresh sessionStorage: nothing remembered
	tb.open(base + "/e2e/api.html")
	eval[bool](tb, switchJS)
	st := waitState[switchState](t, tb, "window.__switch", 60*time.Second)
	if st.Result != "done" {
		t.Fatalf("%s: events %v, sent %d, got %d", st.Result, st.Events, len(st.Sent), len(st.Got))
	}
	if len(st.Events) < 2 || st.Events[0] != "send while CONNECTING: InvalidStateError" || st.Events[1] != "open on sse" {
		t.Errorf("events %v, want [send while CONNECTING: InvalidStateError, open on sse]", st.Events)
	}
	if st.On["sse"] == 0 || st.On["longpoll"] == 0 {
		t.Errorf("sent on %v: want messages sent both before and after the switch", st.On)
	}
	if len(st.Got) != len(st.Sent) {
		t.Errorf("sent %d, received %d", len(st.Sent), len(st.Got))
	}
	for i := range min(len(st.Got), len(st.Sent)) {
		if st.Got[i] != st.Sent[i] {
			t.Fatalf("echo %d is %q, want %q (sent %d, received %d)", i, st.Got[i], st.Sent[i], len(st.Sent), len(st.Got))
		}
	}
	t.Logf("%d messages, sent on %v, all echoed once in order; events %v", len(st.Sent), st.On, st.Events)
}

// TestProxiedLegacy repeats the legacy-browser levels (legacyLevels)
// behind squid, where the client must use sse, and behind nginx, where it
// must use longpoll.
func TestProxiedLegacy(t *testing.T) {
	needBrowser(t)
	squidProxy := squidAddr(t)
	nginxBase := startNginx(t, env.mainURL)
	networks := []struct {
		name      string
		transport string
		open      func(t *testing.T, init string) *tab
	}{
		{"squid", "sse", func(t *testing.T, init string) *tab {
			tb := proxiedTab(t, squidProxy, init)
			tb.open(env.mainURL + "/e2e/api.html")
			return tb
		}},
		{"nginx", "longpoll", func(t *testing.T, init string) *tab {
			tb := newTab(t, init)
			tb.open(nginxBase + "/e2e/api.html")
			return tb
		}},
	}
	for _, nw := range networks {
		for _, lv := range legacyLevels {
			t.Run(nw.name+"/"+lv.name, func(t *testing.T) {
				var js strings.Builder
				for _, g := range lv.deleted {
					fmt.Fprintf(&js, "delete window[%q];\n", g)
				}
				tb := nw.open(t, js.String())
				for _, g := range lv.deleted {
					if typ := eval[string](tb, "typeof window."+g); typ != "undefined" {
						t.Fatalf("%s is still there (%s) after the init script", g, typ)
					}
				}
				for _, name := range proxiedEchoCases {
					checkEchoCase(t, name, tb.run("auto", name, nil, 60*time.Second), nw.transport)
				}
				streams := tb.requestsMatching("/sse")
				if len(streams) == 0 {
					t.Error("no event-stream request seen")
				}
				for _, r := range streams {
					if r.Type != lv.stream {
						t.Errorf("event stream requested as %s, want %s: %s", r.Type, lv.stream, r.URL)
					}
				}
				polls := tb.requestsMatching("/poll")
				if nw.transport == "longpoll" && len(polls) == 0 {
					t.Error("no long-poll request seen")
				}
				if nw.transport == "sse" && len(polls) > 0 {
					t.Errorf("polled behind squid: %v", polls)
				}
				if ws := tb.requestsMatching("ws://"); len(ws) > 0 {
					t.Errorf("a WebSocket was opened without WebSocket: %v", ws)
				}
			})
		}
	}
}
