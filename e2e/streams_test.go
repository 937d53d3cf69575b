package e2e

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/ferrygw/ferry/server"
)

// streamReader is one way client.js can read the sse carrier's event
// stream, chosen by its eventSource and fetchStream options.
type streamReader struct {
	name        string
	eventSource bool
	fetchStream any    // true, false or "auto"
	request     string // the resource type Chromium reports for the stream
}

var streamReaders = []streamReader{
	{"xhr", false, false, "XHR"},
	{"fetch", false, true, "Fetch"},
	{"eventsource", true, false, "EventSource"},
	{"auto, EventSource off", false, "auto", "Fetch"},
	{"auto, EventSource on", true, "auto", "EventSource"},
}

// streamsPage is what Streams.state() reports.
type streamsPage struct {
	Opened, Done  bool
	Error         string
	Transport     string
	EchoMS        []float64
	BurstMS       float64
	Received, Bad int
	FirstBad      string
}

// call runs a DevTools command without parameters or result in the tab.
func call[R any](tb *tab, cmd cdp.Command[cdp.Empty, R]) error {
	_, err := chromedp.Call(tb.ctx, cmd, cdp.Empty{})
	return err
}

// runStreams runs streams.js once with one reader and fails the test
// unless every echo and every message of the burst arrived intact.
func runStreams(t *testing.T, tb *tab, url string, r streamReader, warmup, echoes, n int) streamsPage {
	t.Helper()
	tb.open(env.pagesURL + "/e2e/streams.html")
	eval[any](tb, fmt.Sprintf(`Streams.start({url: %q, eventSource: %v, fetchStream: %#v, warmup: %d, echoes: %d, n: %d}), 0`,
		url, r.eventSource, r.fetchStream, warmup, echoes, n))
	st := pollPage[streamsPage](tb, "Streams.state()", 3*time.Minute, func(p streamsPage) bool { return p.Done })
	switch {
	case !st.Done:
		t.Fatalf("%s: no end after 3 minutes: %+v", r.name, st)
	case st.Error != "":
		t.Fatalf("%s: %s after %d echoes, %d messages", r.name, st.Error, len(st.EchoMS), st.Received)
	case st.Received != n || st.Bad != 0:
		t.Fatalf("%s: received %d of %d, %d bad (first: %s)", r.name, st.Received, n, st.Bad, st.FirstBad)
	case len(st.EchoMS) != echoes:
		t.Fatalf("%s: %d echoes timed, want %d", r.name, len(st.EchoMS), echoes)
	case st.Transport != "sse":
		t.Fatalf("%s: transport %q, want sse", r.name, st.Transport)
	}
	return st
}

// TestStreamReaders reads the sse carrier's event stream each way
// Chromium offers client.js: XHR streaming, fetch streaming and
// EventSource, forced and as the fetchStream "auto" default picks. With
// the DevTools Network domain on, it checks that each option makes the
// request type expected, that a page whose fetch lacks a readable body or
// AbortController reads with XHR, and that no request needs a CORS
// preflight (the page is cross-origin to the gateway). Then, with the
// Network domain off (it reports every chunk and EventSource message,
// which would tax the readers unequally), it measures each reader in one
// tab, in interleaved rounds (2, or FERRY_E2E_ROUNDS): the median and
// mean of sequential echoes of 64 bytes and the rate of a 20,000-message
// burst down, logged with their ratios. The figures are measurements,
// not assertions.
func TestStreamReaders(t *testing.T) {
	needBrowser(t)
	g := server.NewGateway([]string{env.pagesURL}, logger())
	g.Handle("/burst", server.ServiceConfig{}, burstService)
	var preflights atomic.Int64
	addr := serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			preflights.Add(1)
		}
		g.ServeHTTP(w, r)
	}))
	url := "ws://" + addr + "/burst"
	tb := newTab(t)

	for _, r := range streamReaders {
		before := len(tb.requestsMatching("/sse"))
		runStreams(t, tb, url, r, 2, 5, 2000)
		streams := tb.requestsMatching("/sse")[before:]
		if len(streams) == 0 {
			t.Fatalf("%s: no event-stream request seen", r.name)
		}
		for _, q := range streams {
			if q.Type != r.request {
				t.Errorf("%s: event stream requested as %s, want %s: %s", r.name, q.Type, r.request, q.URL)
			}
		}
	}
	// Browsers with fetch but not all it takes: the stream falls back to
	// XHR, at once or after the first response.
	for _, c := range []struct{ name, init, first, rest string }{
		{"fetch without a readable body", "delete Response.prototype.body;", "Fetch", "XHR"},
		{"fetch without AbortController", "delete window.AbortController;", "XHR", "XHR"},
	} {
		other := newTab(t, c.init)
		runStreams(t, other, url, streamReader{name: c.name, fetchStream: "auto"}, 2, 5, 2000)
		streams := other.requestsMatching("/sse")
		if len(streams) < 2 {
			t.Fatalf("%s: %d event-stream requests, want several", c.name, len(streams))
		}
		for i, q := range streams {
			if want := map[bool]string{true: c.first, false: c.rest}[i == 0]; q.Type != want {
				t.Errorf("%s: event stream %d requested as %s, want %s", c.name, i, q.Type, want)
			}
		}
	}
	if n := preflights.Load(); n != 0 {
		t.Errorf("%d CORS preflights, want none", n)
	}

	for _, err := range []error{
		call(tb, network.Disable), call(tb, css.Disable), call(tb, dom.Disable),
	} {
		if err != nil {
			t.Fatalf("quieting the tab: %v", err)
		}
	}
	const warmup, echoes, burst = 20, 200, throughputMessages
	rounds := 2
	if n, err := strconv.Atoi(os.Getenv("FERRY_E2E_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	type total struct {
		echoMS        []float64
		burstMS       float64
		burstMessages int
	}
	totals := make(map[string]*total)
	for round := range rounds {
		order := slices.Clone(streamReaders)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, r := range order {
			st := runStreams(t, tb, url, r, warmup, echoes, burst)
			tt := totals[r.name]
			if tt == nil {
				tt = &total{}
				totals[r.name] = tt
			}
			tt.echoMS = append(tt.echoMS, st.EchoMS...)
			tt.burstMS += st.BurstMS
			tt.burstMessages += st.Received
		}
	}
	p50 := func(name string) float64 {
		v := slices.Clone(totals[name].echoMS)
		slices.Sort(v)
		return v[len(v)/2]
	}
	rate := func(name string) float64 {
		return float64(totals[name].burstMessages) / (max(totals[name].burstMS, 1) / 1000)
	}
	mean := func(name string) float64 {
		var sum float64
		for _, v := range totals[name].echoMS {
			sum += v
		}
		return sum / float64(len(totals[name].echoMS))
	}
	var report strings.Builder
	fmt.Fprintf(&report, "%d rounds of %d echoes (64 B) and a burst of %d messages, per reader:", rounds, echoes, burst)
	for _, r := range streamReaders {
		fmt.Fprintf(&report, "\n%-22s echo p50 %6.2f ms, mean %6.2f ms  burst %6.0f msgs/s", r.name, p50(r.name), mean(r.name), rate(r.name))
	}
	for _, c := range [][2]string{{"fetch", "xhr"}, {"fetch", "eventsource"}} {
		fmt.Fprintf(&report, "\n%s/%s: echo p50 x%.3f, mean x%.3f, burst rate x%.2f", c[0], c[1],
			p50(c[0])/p50(c[1]), mean(c[0])/mean(c[1]), rate(c[0])/rate(c[1]))
	}
	t.Log(report.String())
}
