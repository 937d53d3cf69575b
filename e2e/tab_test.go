package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// tab is one browser tab (in its own window, so it is never throttled).
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex // guards console, requests
	console  []string
	requests []request
}

// request is a network request the page made, as the browser saw it.
type request struct {
	Type string // network.ResourceType: XHR, EventSource, Fetch, WebSocket, ...
	URL  string
}

// newTab opens a tab. Each script in inits runs in every new document of
// the tab before any of the page's own scripts.
func newTab(t *testing.T, inits ...string) *tab {
	t.Helper()
	needBrowser(t)
	return newTabIn(t, env.browser, inits...)
}

// newTabIn opens a tab in the browser that browserCtx owns (see
// launchBrowser), like newTab.
func newTabIn(t *testing.T, browserCtx context.Context, inits ...string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx)
	tb := &tab{t: t, ctx: ctx}
	t.Cleanup(func() {
		cancel()
		if t.Failed() || os.Getenv("FERRY_E2E_LOG") != "" {
			tb.mu.Lock()
			defer tb.mu.Unlock()
			for _, l := range tb.console {
				t.Logf("console: %s", l)
			}
		}
	})
	// Open the tab, then subscribe before anything loads.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	lctx, lcancel := context.WithCancel(ctx)
	t.Cleanup(lcancel)
	msgs := chromedp.Console(lctx)
	reqs := chromedp.Events(lctx, network.RequestWillBeSent)
	wss := chromedp.Events(lctx, network.WebSocketCreated)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m.String())
			tb.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range reqs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.requests = append(tb.requests, request{Type: string(ev.Type), URL: ev.Request.URL})
			tb.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range wss {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.requests = append(tb.requests, request{Type: "WebSocket", URL: ev.URL})
			tb.mu.Unlock()
		}
	}()
	for _, src := range inits {
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: src}); err != nil {
			t.Fatalf("adding an init script: %v", err)
		}
	}
	return tb
}

// open navigates to url and waits until the runner is loaded.
func (tb *tab) open(url string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tb.t.Fatalf("navigating to %s: %v", url, err)
	}
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof E2E === "object"`))
	if err != nil || !ok {
		tb.t.Fatalf("%s: runner not loaded (err %v)", url, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// caseResult is what a runner case reports.
type caseResult struct {
	Checks  map[string]any `json:"checks"`
	Info    map[string]any `json:"info"`
	Error   string         `json:"error"`
	Partial any            `json:"partial"`
}

// run runs a runner case against target and returns its result. A case
// that does not finish within timeout (a hang guard, not a measurement)
// is reported as an error result.
func (tb *tab) run(target, name string, params map[string]any, timeout time.Duration) caseResult {
	tb.t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	params["timeoutMs"] = timeout.Milliseconds()
	params["deadPort"] = env.deadPort
	p, _ := json.Marshal(params)
	id := eval[int](tb, fmt.Sprintf("E2E.start(%q, %q, %s)", target, name, p))
	deadline := time.Now().Add(timeout + 10*time.Second)
	delay := 5 * time.Millisecond
	for {
		s := eval[string](tb, fmt.Sprintf("E2E.result(%d)", id))
		if s != "" {
			var r caseResult
			if err := json.Unmarshal([]byte(s), &r); err != nil {
				return caseResult{Error: fmt.Sprintf("bad result %q: %v", s, err)}
			}
			return r
		}
		if time.Now().After(deadline) {
			return caseResult{Error: "no result from the page"}
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// requestsMatching returns the requests whose URL contains substr.
func (tb *tab) requestsMatching(substr string) []request {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []request
	for _, r := range tb.requests {
		if strings.Contains(r.URL, substr) {
			out = append(out, r)
		}
	}
	return out
}
