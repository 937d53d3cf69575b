package e2e

import (
	"testing"
	"time"
)

// TestInstall runs the echo suite through a plain `new WebSocket(...)`
// after Ferry.install(), with the default transport order and then with
// Ferry.configure({transports: [...]}) restricting it, as drop-in code
// that cannot pass options would.
func TestInstall(t *testing.T) {
	needBrowser(t)
	tb := newTab(t)
	tb.open(env.mainURL + "/e2e/api.html")
	if typ := eval[string](tb, "E2E.install()"); typ != "function" {
		t.Fatalf("typeof WebSocket after install: %s", typ)
	}
	if !eval[bool](tb, "WebSocket === Ferry.WebSocket") {
		t.Fatal("install did not replace window.WebSocket")
	}
	for _, want := range []string{"websocket", "longpoll", "sse"} {
		if want != "websocket" {
			eval[any](tb, `Ferry.configure({transports: ["`+want+`"]}), 0`)
		}
		r := tb.run("installed", "echo-suite", nil, 60*time.Second)
		if r.Error != "" {
			t.Fatalf("%s: %s", want, r.Error)
		}
		for k, v := range r.Checks {
			if !legacyCheckOK(k, v) {
				t.Errorf("%s: %s = %v", want, k, v)
			}
		}
		if r.Info["transport"] != want {
			t.Errorf("transport %v, want %s", r.Info["transport"], want)
		}
	}
	eval[any](tb, `Ferry.configure({transports: ["websocket", "sse", "longpoll"]}), Ferry.uninstall(), 0`)
	if eval[bool](tb, "WebSocket === Ferry.WebSocket") {
		t.Error("uninstall did not restore window.WebSocket")
	}
}
