package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelPair  = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"`)
)

// parseExposition parses the Prometheus text format strictly: every sample
// belongs to a family declared by HELP and TYPE lines before it (a
// histogram's or summary's _bucket, _sum and _count samples to theirs),
// label values are properly escaped, values are numbers, and no series
// repeats. It returns the samples keyed by name{labels, sorted}.
func parseExposition(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	types := map[string]string{}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fail := func(msg string) { t.Fatalf("line %d %q: %s", n, line, msg) }
		if f, ok := strings.CutPrefix(line, "# HELP "); ok {
			if name, _, _ := strings.Cut(f, " "); !metricName.MatchString(name) {
				fail("bad HELP")
			}
			continue
		}
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(f, " ")
			if !slices.Contains([]string{"counter", "gauge", "histogram", "summary"}, typ) || types[name] != "" {
				fail("bad or repeated TYPE")
			}
			types[name] = typ
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		var labels []string
		if rest == "" {
			name, rest, _ = strings.Cut(line, " ")
			rest = " " + rest
		} else {
			for {
				m := labelPair.FindStringSubmatch(rest)
				if m == nil {
					fail("bad label")
				}
				labels = append(labels, m[1]+"="+strconv.Quote(m[2]))
				rest = rest[len(m[0]):]
				if r, ok := strings.CutPrefix(rest, ","); ok {
					rest = r
					continue
				}
				if r, ok := strings.CutPrefix(rest, "}"); ok {
					rest = r
					break
				}
				fail("bad label list")
			}
		}
		family := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f, ok := strings.CutSuffix(name, suffix); ok && types[name] == "" && (types[f] == "histogram" || types[f] == "summary") {
				family = f
			}
		}
		if types[family] == "" {
			fail("sample before its TYPE")
		}
		v, err := strconv.ParseFloat(strings.TrimPrefix(rest, " "), 64)
		if !strings.HasPrefix(rest, " ") || err != nil {
			fail("bad value")
		}
		if types[family] == "counter" && !strings.HasSuffix(name, "_total") {
			fail("counter without _total")
		}
		slices.Sort(labels)
		key := name + "{" + strings.Join(labels, ",") + "}"
		if _, dup := out[key]; dup {
			fail("repeated series")
		}
		out[key] = v
	}
	return out
}

func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return parseExposition(t, resp.Body)
}

// series names a sample as parseExposition keys it.
func series(name string, labels ...string) string {
	var l []string
	for i := 0; i < len(labels); i += 2 {
		l = append(l, labels[i]+"="+strconv.Quote(labels[i+1]))
	}
	slices.Sort(l)
	return name + "{" + strings.Join(l, ",") + "}"
}

func TestMetrics(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{Emulation: fastHeartbeat}, server.Echo)
	ts := httptest.NewServer(g)
	defer ts.Close()
	m := scrape(t, ts.URL)
	for _, k := range []string{
		series("ferry_sessions", "service", "/echo", "transport", "sse"),
		series("ferry_messages_total", "service", "/echo", "direction", "in"),
		series("ferry_resumes_total", "service", "/echo"),
		series("ferry_fallbacks_total", "service", "/echo"),
		series("ferry_backend_dial_errors_total", "service", "/echo"),
	} {
		if v, ok := m[k]; !ok || v != 0 {
			t.Fatalf("%s = %v, %v; want 0", k, v, ok)
		}
	}

	for _, tr := range []string{client.SSE, client.WebSocket, client.Plain} {
		t0 := time.Now()
		s, err := dial(t, ts.URL+"/echo", tr)
		if err != nil {
			t.Fatal(tr, err, time.Since(t0))
		}
		// Echo first: a plain WebSocket's session is counted just after the
		// server wrote its 101, which the client may see before that.
		echoOnce(t, s, "hello") // 5 bytes each way
		want := map[string]string{client.SSE: "sse", client.WebSocket: "websocket", client.Plain: "plain"}[tr]
		if v := scrape(t, ts.URL)[series("ferry_sessions", "service", "/echo", "transport", want)]; v != 1 {
			t.Fatalf("%s: ferry_sessions = %v, want 1", tr, v)
		}
		closeAndWait(t, s)
	}
	resp, err := http.Post(ts.URL+"/echo/.ferry/open", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("POST", ts.URL+"/echo/.ferry/open", nil)
	req.Header.Set("Origin", "http://evil.example")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("refused origin: %v %v", resp, err)
	}
	resp.Body.Close()
	g.Metrics.BackendDialError("/echo")

	want := map[string]float64{
		series("ferry_messages_total", "service", "/echo", "direction", "in"):            3,
		series("ferry_messages_total", "service", "/echo", "direction", "out"):           3,
		series("ferry_bytes_total", "service", "/echo", "direction", "in"):               15,
		series("ferry_bytes_total", "service", "/echo", "direction", "out"):              15,
		series("ferry_closes_total", "service", "/echo", "code", "1000"):                 3,
		series("ferry_backend_dial_errors_total", "service", "/echo"):                    1,
		series("ferry_http_requests_refused_total", "service", "/echo", "status", "403"): 1,
		series("ferry_sessions", "service", "/echo", "transport", "sse"):                 1, // the bare open
		series("ferry_sessions", "service", "/echo", "transport", "websocket"):           0,
	}
	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got = scrape(t, ts.URL)
		if diff(got, want) == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(diff(got, want))
		}
	}
}

func diff(got, want map[string]float64) string {
	var b strings.Builder
	for k, v := range want {
		if got[k] != v {
			fmt.Fprintf(&b, "%s = %v, want %v\n", k, got[k], v)
		}
	}
	return b.String()
}
