package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ferrygw/ferry/server"
)

// TestDemoPage drives the demo page at / of a gateway built from the ferry
// command's default configuration (echo at /echo): it checks the transport
// shown, forces each carrier, cuts each one and watches the session resume,
// with the page's lost, duplicated and reordered counters at 0 throughout.
// It ends on a simulated proxy that hangs WebSocket upgrades, so the page
// shows a fallback and its reason, and saves a screenshot to
// $FERRY_ARTIFACTS/demo.png (a temporary directory without it).
func TestDemoPage(t *testing.T) {
	needBrowser(t)
	base := startDefaultGateway(t)
	tb := newTab(t)
	ctx, cancel := context.WithTimeout(tb.ctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	text := func(id string) string {
		return eval[string](tb, `document.getElementById("`+id+`").textContent`)
	}
	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("clicking %s: %v", sel, err)
		}
	}

	// Auto: the first choice, WebSocket.
	waitFor(t, tb, `document.getElementById("transport").textContent === "websocket" && !document.getElementById("cut").disabled`, "the demo to connect")
	if why := text("why"); !strings.Contains(why, "websocket ✓") || !strings.Contains(why, "first choice") {
		t.Errorf("why = %q, want websocket ✓ … first choice", why)
	}
	demoFlows(t, tb, "auto")

	const msg = "hello from chromedp"
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("msg"), msg), chromedp.Click(chromedp.CSS("#f button"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tb, `document.getElementById("log").textContent.indexOf("← `+msg+`") >= 0`, "the chat echo")

	// Each carrier, forced, then cut; then back to auto, and a cut there.
	for _, mode := range []string{"sse", "longpoll", "websocket", ""} {
		want := mode
		if want == "" {
			want = "websocket"
		}
		click(fmt.Sprintf(`#force button[data-mode=%q]`, mode))
		waitFor(t, tb, fmt.Sprintf(`ferryDemo.mode === %q && document.getElementById("transport").textContent === %q && !document.getElementById("cut").disabled`, mode, want),
			"the socket over "+want)
		if mode != "" {
			if why := text("why"); !strings.Contains(why, mode+" ✓") || !strings.Contains(why, "forced") {
				t.Errorf("%s: why = %q", mode, why)
			}
		}
		demoFlows(t, tb, want+" forced")
		demoCut(t, tb, click, want)
	}

	// A proxy that hangs WebSocket upgrades: after connectTimeout the
	// client falls back to SSE, and the page says why.
	click("#block")
	waitFor(t, tb, `ferryDemo.mode === "" && document.getElementById("transport").textContent === "sse" && !document.getElementById("cut").disabled`, "the fallback to SSE")
	why := text("why")
	if !strings.Contains(why, "websocket ✗") || !strings.Contains(why, "no 'o' frame within connectTimeout") || !strings.Contains(why, "sse ✓") {
		t.Errorf("fallback: why = %q", why)
	}
	demoFlows(t, tb, "after the fallback")
	if n := eval[int](tb, `document.querySelectorAll("#timeline li.fallback").length`); n != 1 {
		t.Errorf("%d fallback entries in the timeline, want 1", n)
	}
	// Let the plot fill a little more before the picture.
	time.Sleep(time.Second)
	demoIntact(t, tb, "at the end")

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("FERRY_ARTIFACTS")
	if dir == "" {
		dir, err = os.MkdirTemp("", "ferry-demo-")
	} else {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "demo.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("stats %s\ntimeline:\n%s\nscreenshot: %s (%d bytes)", eval[string](tb, `JSON.stringify(ferryDemo.stats())`),
		eval[string](tb, `Array.from(document.querySelectorAll("#timeline li")).reverse().map(li => li.innerText.replace(/\s+/g, " ")).join("\n")`),
		out, len(png))
}

// demoFlows waits for 20 more echoes and checks the counters.
func demoFlows(t *testing.T, tb *tab, what string) {
	t.Helper()
	n := eval[int](tb, `ferryDemo.stats().echoed`)
	waitFor(t, tb, fmt.Sprintf(`ferryDemo.stats().echoed >= %d`, n+20), "echoes "+what)
	demoIntact(t, tb, what)
}

// demoIntact checks the page's lost, duplicated and reordered counters,
// as shown and as counted.
func demoIntact(t *testing.T, tb *tab, what string) {
	t.Helper()
	shown := eval[string](tb, `["lost", "dup", "reordered"].map(id => document.getElementById(id).textContent).join(" ")`)
	st := eval[map[string]int](tb, `ferryDemo.stats()`)
	if shown != "0 0 0" || st["lost"]+st["dup"]+st["reordered"] != 0 {
		t.Errorf("%s: lost/dup/reordered shown %q, stats %v", what, shown, st)
	}
}

// demoCut cuts the carrier and waits for the resume entry in the
// timeline, marked caught up once every message sent before and during
// the outage has been echoed, once and in order.
func demoCut(t *testing.T, tb *tab, click func(string), transport string) {
	t.Helper()
	resumes := eval[int](tb, `document.querySelectorAll("#timeline li.resume").length`)
	sent := eval[int](tb, `ferryDemo.stats().sent`)
	click("#cut")
	waitFor(t, tb, fmt.Sprintf(`document.querySelectorAll("#timeline li.resume").length > %d`, resumes), "a resume after cutting "+transport)
	entry := eval[string](tb, `document.querySelector("#timeline li.resume").textContent`)
	if !strings.Contains(entry, "resumed on "+transport) {
		t.Errorf("cut %s: resume entry %q", transport, entry)
	}
	waitFor(t, tb, `document.querySelector("#timeline li.resume").dataset.caughtUp !== undefined`, "the resume to catch up")
	if ok := eval[string](tb, `document.querySelector("#timeline li.resume").dataset.caughtUp`); ok != "ok" {
		t.Errorf("cut %s: %s", transport, eval[string](tb, `document.querySelector("#timeline li.resume").textContent`))
	}
	if n := eval[int](tb, `ferryDemo.stats().lastEchoed`); n <= sent {
		t.Errorf("cut %s: last echoed #%d, sent #%d before the cut", transport, n, sent)
	}
	demoIntact(t, tb, "after cutting "+transport)
}

// startDefaultGateway serves a gateway built as the ferry command builds
// it without a configuration file, and returns its base URL.
func startDefaultGateway(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := server.Build(ctx, server.DefaultConfig(), logger())
	if err != nil {
		cancel()
		ln.Close()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("gateway Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// waitFor polls a JavaScript condition until it is true; the timeout is a
// hang guard.
func waitFor(t *testing.T, tb *tab, cond, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !eval[bool](tb, cond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
