package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scrapeHandler serves a local GET /metrics from h and parses the text
// format.
func scrapeHandler(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.Host, r.RemoteAddr = "127.0.0.1", "127.0.0.1:40000"
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", w.Code, w.Body)
	}
	return parseExposition(t, w.Body)
}

// waitSeries scrapes h until every series in want has its value.
func waitSeries(t *testing.T, h http.Handler, want map[string]float64) {
	t.Helper()
	eventually(t, func() error {
		if d := diff(scrapeHandler(t, h), want); d != "" {
			return errors.New(d)
		}
		return nil
	})
}

// eventually retries check for up to 10 s until it returns nil.
func eventually(t *testing.T, check func() error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}

// TestMetricsFormats scrapes /metrics over HTTP in the text format and,
// asked for by the Accept header, in OpenMetrics.
func TestMetricsFormats(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{Emulation: fastHeartbeat}, server.Echo)
	ts := httptest.NewServer(g)
	defer ts.Close()
	s := mustDial(t, ts.URL+"/echo", client.WebSocket)
	echoOnce(t, s, "hello")
	closeAndWait(t, s)
	cases := []struct {
		name, accept, ctype string
		want                []string
	}{
		{"text", "", "text/plain; version=0.0.4", []string{
			"# TYPE ferry_messages_total counter\n",
			`ferry_messages_total{direction="in",service="/echo"} 1` + "\n",
			`ferry_message_size_bytes_bucket{direction="out",service="/echo",le="16"} 1` + "\n",
			`ferry_handshake_seconds_count{service="/echo",transport="websocket"} 1` + "\n",
			"\ngo_goroutines ",
		}},
		{"openmetrics", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5", "application/openmetrics-text; version=1.0.0", []string{
			"# TYPE ferry_messages counter\n",
			`ferry_messages_total{direction="in",service="/echo"} 1.0` + "\n",
			`ferry_message_size_bytes_bucket{direction="out",service="/echo",le="16.0"} 1` + "\n",
			`ferry_handshake_seconds_count{service="/echo",transport="websocket"} 1` + "\n",
			"\ngo_goroutines ",
			"\n# EOF\n",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) ||
				resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%d, Content-Type %q, Cache-Control %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
			}
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("no %q in\n%s", w, body)
				}
			}
		})
	}
}

// TestMetricsRegisterer checks where a Metrics registers: a registry of
// its own by default (so gateways in one process never collide, and the
// default registerer stays untouched), or the caller's.
func TestMetricsRegisterer(t *testing.T) {
	t.Run("own", func(t *testing.T) {
		for range 2 {
			g := server.NewGateway(nil, nil)
			g.Handle("/echo", server.ServiceConfig{}, server.Echo)
			if n := testutil.CollectAndCount(g.Metrics, "ferry_sessions"); n != 4 {
				t.Fatalf("ferry_sessions: %d series, want 4", n)
			}
			if m := scrapeHandler(t, g.Metrics); m["go_goroutines{}"] <= 0 {
				t.Fatal("no go_goroutines")
			}
		}
		if n, err := testutil.GatherAndCount(prometheus.DefaultGatherer, "ferry_sessions"); err != nil || n != 0 {
			t.Fatalf("default registry holds %d ferry_sessions (%v)", n, err)
		}
	})
	t.Run("caller's registry", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m, err := server.NewMetricsWith(reg)
		if err != nil {
			t.Fatal(err)
		}
		g := server.NewGateway(nil, nil)
		g.Metrics = m
		g.Handle("/echo", server.ServiceConfig{}, server.Echo)
		m.BackendDialError("/echo")
		if n, err := testutil.GatherAndCount(reg, "ferry_sessions", "go_goroutines"); err != nil || n != 4 {
			t.Fatalf("registry: %d series (%v), want the 4 ferry_sessions and no Go collector", n, err)
		}
		want := "# HELP ferry_backend_dial_errors_total Failed back-end dials by service.\n" +
			"# TYPE ferry_backend_dial_errors_total counter\n" +
			`ferry_backend_dial_errors_total{service="/echo"} 1` + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ferry_backend_dial_errors_total"); err != nil {
			t.Fatal(err)
		}
		if _, ok := scrapeHandler(t, g)[`ferry_backend_dial_errors_total{service="/echo"}`]; !ok {
			t.Fatal("the gateway's /metrics does not serve the caller's registry")
		}
		var are prometheus.AlreadyRegisteredError
		if _, err := server.NewMetricsWith(reg); !errors.As(err, &are) {
			t.Fatalf("second Metrics in one registry: %v, want AlreadyRegisteredError", err)
		}
	})
	t.Run("registerer only", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m, err := server.NewMetricsWith(prometheus.WrapRegistererWith(prometheus.Labels{"gateway": "a"}, reg))
		if err != nil {
			t.Fatal(err)
		}
		m.BackendDialError("/x")
		if n, err := testutil.GatherAndCount(reg, "ferry_backend_dial_errors_total"); err != nil || n != 1 {
			t.Fatalf("wrapped registry: %d (%v)", n, err)
		}
		if v := scrapeHandler(t, m)[`ferry_backend_dial_errors_total{service="/x"}`]; v != 1 {
			t.Fatalf("served: %v, want Ferry's own series", v)
		}
	})
}

// TestMetricsSessionSeries checks the handshake and session duration
// histograms on every carrier.
func TestMetricsSessionSeries(t *testing.T) {
	for _, tr := range []string{client.WebSocket, client.SSE, client.LongPoll, client.Plain} {
		t.Run(tr, func(t *testing.T) {
			g := server.NewGateway(nil, nil)
			g.Handle("/echo", server.ServiceConfig{Emulation: fastHeartbeat}, server.Echo)
			ts := newServer(g)
			defer ts.Close()
			s := mustDial(t, ts.URL+"/echo", tr)
			echoOnce(t, s, "hello")
			closeAndWait(t, s)
			l := map[string]string{client.WebSocket: "websocket", client.SSE: "sse", client.LongPoll: "longpoll", client.Plain: "plain"}[tr]
			waitSeries(t, g.Metrics, map[string]float64{
				series("ferry_handshake_seconds_count", "service", "/echo", "transport", l):        1,
				series("ferry_session_duration_seconds_count", "service", "/echo", "transport", l): 1,
				series("ferry_resume_gap_messages_count", "service", "/echo"):                      0,
			})
		})
	}
}

// TestMetricsMessageSizes compares the message size histogram of a plain
// WebSocket echo (counted by the server's wrapper) with what it must be.
func TestMetricsMessageSizes(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	ts := httptest.NewServer(g)
	defer ts.Close()
	s := mustDial(t, ts.URL+"/echo", client.Plain)
	echoOnce(t, s, "hello")
	echoOnce(t, s, strings.Repeat("x", 1000))
	closeAndWait(t, s)
	var want strings.Builder
	want.WriteString("# HELP ferry_message_size_bytes Message payload bytes by direction (in: from clients).\n" +
		"# TYPE ferry_message_size_bytes histogram\n")
	for _, dir := range []string{"in", "out"} {
		for _, b := range []struct {
			le string
			n  int
		}{{"16", 1}, {"64", 1}, {"256", 1}, {"1024", 2}, {"4096", 2}, {"16384", 2}, {"65536", 2},
			{"262144", 2}, {"1.048576e+06", 2}, {"4.194304e+06", 2}, {"1.6777216e+07", 2}, {"+Inf", 2}} {
			want.WriteString(`ferry_message_size_bytes_bucket{direction="` + dir + `",service="/echo",le="` + b.le + `"} ` + strconv.Itoa(b.n) + "\n")
		}
		want.WriteString(`ferry_message_size_bytes_sum{direction="` + dir + `",service="/echo"} 1005` + "\n")
		want.WriteString(`ferry_message_size_bytes_count{direction="` + dir + `",service="/echo"} 2` + "\n")
	}
	// The server counts a message out once written: the client may read
	// the echo first.
	eventually(t, func() error {
		return testutil.CollectAndCompare(g.Metrics, strings.NewReader(want.String()), "ferry_message_size_bytes")
	})
}

// TestMetricsBroadcastQueue times messages from Publish to every
// subscriber's queue.
func TestMetricsBroadcastQueue(t *testing.T) {
	m := server.NewMetrics()
	f := newFeed(t, server.BroadcastConfig{QueueTime: m.BroadcastQueue("/feed")}, server.ServiceConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	socks := f.subscribe(t, ctx, 2, []string{client.Plain, client.WebSocket})
	for range 3 {
		if err := f.b.Publish(ctx, bytesocket.Binary, []byte("tick")); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range socks {
		for range 3 {
			if _, _, err := s.Read(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitSeries(t, m, map[string]float64{series("ferry_broadcast_queue_seconds_count", "service", "/feed"): 3})
	closeAll(t, socks)
}
