package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// legacyLevels simulate older browsers: each deletes more globals before
// any page script runs (page.addScriptToEvaluateOnNewDocument).
var legacyLevels = []struct {
	name    string
	deleted []string
	// stream is the resource type Chromium reports for the event stream:
	// EventSource when the client uses it, Fetch for fetch streaming, XHR
	// for XHR streaming.
	stream string
}{
	{"no-websocket", []string{"WebSocket"}, "EventSource"},
	{"no-eventsource", []string{"WebSocket", "EventSource"}, "Fetch"},
	{"no-fetch-promise-textencoder", []string{"WebSocket", "EventSource", "fetch", "Promise",
		"TextEncoder", "TextDecoder"}, "XHR"},
	// Beyond the list: what an XHR-only engine lacks besides.
	{"xhr-only", []string{"WebSocket", "EventSource", "fetch", "Promise", "TextEncoder", "TextDecoder",
		"Blob", "FileReader", "URL", "URLSearchParams", "EventTarget", "Event", "MessageEvent",
		"CloseEvent", "DOMException", "AbortController", "Reflect"}, "XHR"},
}

// legacyDiffCases are the differential cases that need nothing a legacy
// page lacks; TestLegacy compares them with native from a normal page.
var legacyDiffCases = []string{
	"ctor-url", "ctor-protocols", "ready-state", "event-order", "close-in-flight", "unicode",
	"close-args", "close-client", "close-connecting", "close-server", "connect-fail", "send-large",
}

// TestLegacy runs the echo suite with the client's default transport order
// in pages that lack more and more browser features, and checks which
// transport and which request type the client picked.
func TestLegacy(t *testing.T) {
	needBrowser(t)
	ref := newTab(t)
	ref.open(env.mainURL + "/e2e/api.html")
	native := make(map[string]caseResult)
	for _, name := range legacyDiffCases {
		native[name] = ref.run("native", name, nil, 60*time.Second)
	}
	for _, lv := range legacyLevels {
		t.Run(lv.name, func(t *testing.T) {
			var js strings.Builder
			for _, g := range lv.deleted {
				fmt.Fprintf(&js, "delete window[%q];\n", g)
			}
			tb := newTab(t, js.String())
			tb.open(env.mainURL + "/e2e/api.html")
			for _, g := range lv.deleted {
				if typ := eval[string](tb, "typeof window."+g); typ != "undefined" {
					t.Fatalf("%s is still there (%s) after the init script", g, typ)
				}
			}
			if !eval[bool](tb, `typeof Ferry === "object"`) {
				t.Fatal("client.js did not load")
			}
			for _, name := range []string{"echo-suite", "bytes-256", "unicode"} {
				r := tb.run("auto", name, nil, 60*time.Second)
				if r.Error != "" {
					t.Errorf("%s: %s (partial %v)", name, r.Error, r.Partial)
					continue
				}
				for k, v := range r.Checks {
					if !legacyCheckOK(k, v) {
						t.Errorf("%s: %s = %v", name, k, v)
					}
				}
				if tr := r.Info["transport"]; tr != "sse" {
					t.Errorf("%s: transport %v, want sse", name, tr)
				}
			}
			streams := tb.requestsMatching("/sse")
			if len(streams) == 0 {
				t.Fatal("no event-stream request seen")
			}
			for _, r := range streams {
				if r.Type != lv.stream {
					t.Errorf("event stream requested as %s, want %s: %s", r.Type, lv.stream, r.URL)
				}
			}
			if ws := tb.requestsMatching("ws://"); len(ws) > 0 {
				t.Errorf("a WebSocket was opened without WebSocket: %v", ws)
			}
			t.Logf("%s: %d event-stream requests, all %s", lv.name, len(streams), lv.stream)

			// The same API behaviour as native, as far as the page can tell.
			var cells []string
			for _, name := range legacyDiffCases {
				r := tb.run("auto", name, nil, 60*time.Second)
				if r.Error != "" {
					t.Errorf("%s: %s (partial %v)", name, r.Error, r.Partial)
				}
				cells = append(cells, name+":"+compareCase(t, name, "auto", normalize(native[name]), normalize(r)))
			}
			t.Logf("%s vs native: %s", lv.name, strings.Join(cells, " "))
		})
	}
}

// legacyCheckOK accepts the checks of echo-suite, bytes-256 and unicode.
func legacyCheckOK(k string, v any) bool {
	switch k {
	case "close":
		return v == `4000:bye \u20ac:true`
	}
	if m, ok := v.(map[string]any); ok { // unicode: {echo, same}
		return m["same"] == true
	}
	return v == true
}

// exceptionClass matches the class part of the runner's "throws CLASS:NAME".
var exceptionClass = regexp.MustCompile(`throws (DOMException|TypeError|Error):`)

// normalize drops exception classes from a result: without DOMException
// the client throws Error objects with the same name, which is all an old
// browser's code can test.
func normalize(r caseResult) caseResult {
	out := r
	out.Checks = make(map[string]any, len(r.Checks))
	for k, v := range r.Checks {
		if s, ok := v.(string); ok {
			v = exceptionClass.ReplaceAllString(s, "throws ")
		}
		out.Checks[k] = v
	}
	return out
}
