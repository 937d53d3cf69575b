package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEcho10k echoes 10,000 ordered text messages on native and on each
// Ferry transport, one after another in one tab so that the times are
// comparable, and logs the times; they are measurements, never
// assertions (and the server runs under -race).
func TestEcho10k(t *testing.T) {
	needBrowser(t)
	const n = 10000
	targets := append([]string{"native"}, ferryTransports...)
	times := make(map[string]string)
	tb := newTab(t)
	tb.open(env.mainURL + "/e2e/api.html")
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			r := tb.run(target, "echo-many", map[string]any{"n": n}, 120*time.Second)
			if r.Error != "" {
				t.Fatalf("%s: %s", target, r.Error)
			}
			if r.Checks["inOrder"] != true || r.Checks["n"] != float64(n) {
				t.Errorf("%s: %v", target, r.Checks)
			}
			checkTransport(t, target, r.Info["transport"])
			times[target] = fmt.Sprintf("%6v ms   (open: %v ms)", r.Info["ms"], r.Info["openMs"])
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-10s %s\n", "target", "10,000 echoes, first send to last receipt")
	for _, target := range targets {
		fmt.Fprintf(&b, "%-10s %s\n", target, times[target])
	}
	t.Log("echo timings, measured in this run:" + b.String())
}

// TestBytes256 round-trips every byte value on every target: in one
// message, in one message sent as a view, and as 256 one-byte messages.
func TestBytes256(t *testing.T) {
	needBrowser(t)
	tb := newTab(t)
	tb.open(env.mainURL + "/e2e/api.html")
	for _, target := range append([]string{"native"}, ferryTransports...) {
		t.Run(target, func(t *testing.T) {
			r := tb.run(target, "bytes-256", nil, 60*time.Second)
			if r.Error != "" {
				t.Fatal(r.Error)
			}
			for k, v := range r.Checks {
				if v != true {
					t.Errorf("%s: %s = %v", target, k, v)
				}
			}
			checkTransport(t, target, r.Info["transport"])
		})
	}
}

// TestEchoMixed echoes 1,000 interleaved text and binary messages of
// varied sizes on every target and checks each one, in order.
func TestEchoMixed(t *testing.T) {
	needBrowser(t)
	tb := newTab(t)
	tb.open(env.mainURL + "/e2e/api.html")
	for _, target := range append([]string{"native"}, ferryTransports...) {
		t.Run(target, func(t *testing.T) {
			r := tb.run(target, "echo-mixed", map[string]any{"n": 1000}, 45*time.Second)
			if r.Error != "" {
				t.Fatalf("%s (progress: %v)", r.Error, r.Partial)
			}
			if r.Checks["allEqualInOrder"] != true {
				t.Errorf("%v", r.Checks)
			}
			checkTransport(t, target, r.Info["transport"])
			t.Logf("%s: %v ms for %.0f code units and bytes", target, r.Info["ms"], r.Info["units"])
		})
	}
}

// TestRememberTransport checks that a page remembers the transport that
// worked: the first load has no WebSocket and ends up on sse; the reload
// (same tab, so same sessionStorage) has WebSocket again but starts with
// sse.
func TestRememberTransport(t *testing.T) {
	needBrowser(t)
	tb := newTab(t, `if (!sessionStorage.getItem("e2e.loaded")) {
  sessionStorage.setItem("e2e.loaded", "1");
  delete window.WebSocket;
}`)
	var got []any
	for range 2 {
		tb.open(env.mainURL + "/e2e/api.html")
		r := tb.run("auto", "echo-one", nil, 30*time.Second)
		if r.Error != "" {
			t.Fatal(r.Error)
		}
		got = append(got, r.Info["transport"])
	}
	if got[0] != "sse" || got[1] != "sse" {
		t.Errorf("transports on load and reload: %v, want [sse sse]", got)
	}
	if !eval[bool](tb, `typeof WebSocket === "function"`) {
		t.Error("the reload should have WebSocket")
	}
}

// checkTransport checks that a forced Ferry socket reports the transport
// it was forced onto.
func checkTransport(t *testing.T, target string, got any) {
	t.Helper()
	if target == "native" {
		return
	}
	if got != target {
		t.Errorf("forced onto %s, ws.transport = %v", target, got)
	}
}
