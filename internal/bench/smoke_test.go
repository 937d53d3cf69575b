package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/internal/bench"
	"github.com/ferrygw/ferry/server"
)

// workerEnv makes the test binary a ferry-bench worker process.
const workerEnv = "FERRY_BENCH_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := bench.WorkerMain(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var transports = []string{"native", "websocket", "sse", "longpoll"}

// testServer is an in-process gateway with echo at /echo, bench at /bench
// and, per transport, a broadcast at /feed-T published at /publish/feed-T
// (bearer "s") or by UDP.
type testServer struct {
	url string
	udp map[string]string
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	g.Handle("/bench", server.ServiceConfig{}, server.Bench)
	mux := http.NewServeMux()
	ts := &testServer{udp: map[string]string{}}
	for _, tr := range append(transports, "procs") {
		b, err := server.NewBroadcast(server.BroadcastConfig{UDP: "127.0.0.1:0", PublishSecret: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		g.Handle("/feed-"+tr, server.ServiceConfig{}, b.Accept)
		mux.Handle("/publish/feed-"+tr, b.PublishHandler())
		ts.udp[tr] = b.UDPAddr().String()
	}
	mux.Handle("/", g)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	ts.url = hs.URL
	return ts
}

// config is a short run with a few sessions. The smoke tests assert
// counts over the whole run, not within the window: on a busy machine a
// session may move nothing for a while.
func config(mode, url, transport string) bench.Config {
	return bench.Config{
		Mode: mode, Target: "ferry", URL: url, Transport: transport, Sessions: 3, Size: 64, Inflight: 1,
		Warmup: 300 * time.Millisecond, Duration: 400 * time.Millisecond, MaxDuration: 30 * time.Second,
		DialTimeout: 30 * time.Second, DialConcurrency: 8,
	}
}

func run(t *testing.T, c bench.Config) *bench.Result {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := bench.Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 || r.SessionsOpen != c.Sessions {
		t.Fatalf("%d of %d sessions open, %d errors: %q", r.SessionsOpen, c.Sessions, r.Errors, r.ErrorSamples)
	}
	return r
}

// TestSmoke runs every mode on every transport for under a second with
// a few sessions against an in-process gateway. It asserts counts, not
// timings.
func TestSmoke(t *testing.T) {
	ts := startServer(t)
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			t.Run("echo", func(t *testing.T) {
				c := config(bench.ModeEcho, ts.url+"/echo", tr)
				c.Inflight = 2
				r := run(t, c)
				if r.MessagesAll == 0 || r.Echo.Latency.Count != r.Echo.RoundTrips {
					t.Fatalf("echo %d %+v", r.MessagesAll, r.Echo)
				}
			})
			if tr == "sse" || tr == "longpoll" {
				t.Run("echo-share-http", func(t *testing.T) {
					c := config(bench.ModeEcho, ts.url+"/echo", tr)
					c.ShareHTTP = true
					if r := run(t, c); r.MessagesAll == 0 {
						t.Fatalf("echo %+v", r.Echo)
					}
				})
			}
			t.Run("down", func(t *testing.T) {
				r := run(t, config(bench.ModeDown, ts.url+"/bench", tr))
				if r.MessagesAll == 0 || r.Down.Bytes != 64*r.Down.Messages {
					t.Fatalf("down %d %+v", r.MessagesAll, r.Down)
				}
			})
			t.Run("up", func(t *testing.T) {
				r := run(t, config(bench.ModeUp, ts.url+"/bench", tr))
				if r.MessagesAll == 0 || r.Up.Messages > r.MessagesAll {
					t.Fatalf("up %d %+v", r.MessagesAll, r.Up)
				}
			})
			t.Run("broadcast-http", func(t *testing.T) {
				c := config(bench.ModeBroadcast, ts.url+"/feed-"+tr, tr)
				c.Publish, c.Secret, c.Rate = ts.url+"/publish/feed-"+tr, "s", 50
				r := run(t, c)
				b := r.Broadcast
				if b.Published == 0 || b.Deliveries != b.Expected || b.Subscribers != 3 || b.Latency.Count != b.Deliveries {
					t.Fatalf("broadcast %+v", b)
				}
			})
			t.Run("broadcast-udp", func(t *testing.T) {
				c := config(bench.ModeBroadcast, ts.url+"/feed-"+tr, tr)
				c.UDP, c.Rate = ts.udp[tr], 50
				r := run(t, c)
				// Datagrams may be lost on a busy machine: no exact count.
				if b := r.Broadcast; b.Published == 0 || r.MessagesAll == 0 || b.Deliveries > b.Expected {
					t.Fatalf("broadcast %+v", b)
				}
			})
			t.Run("hold", func(t *testing.T) {
				c := config(bench.ModeHold, ts.url+"/echo", tr)
				c.Warmup, c.Settle, c.MetricsURL = 0, 300*time.Millisecond, ts.url+"/metrics"
				r := run(t, c)
				if h := r.Hold; h.After.Sessions < 3 || h.After.Goroutines == 0 || h.After.HeapInuseBytes == 0 {
					t.Fatalf("hold %+v", h)
				}
			})
		})
	}
}

// TestSmokeProcs runs the multi-process path: two worker processes (this
// test binary) whose results merge.
func TestSmokeProcs(t *testing.T) {
	ts := startServer(t)
	worker := func(c *bench.Config) {
		c.Procs = 2
		c.WorkerCommand = []string{os.Args[0]}
		c.WorkerEnv = []string{workerEnv + "=1"}
	}
	c := config(bench.ModeEcho, ts.url+"/echo", "sse")
	c.Sessions = 4
	worker(&c)
	r := run(t, c)
	if r.Procs != 2 || r.Echo.RoundTrips == 0 || r.Echo.Latency.Count != r.Echo.RoundTrips {
		t.Fatalf("procs %d echo %+v", r.Procs, r.Echo)
	}
	c = config(bench.ModeBroadcast, ts.url+"/feed-procs", "websocket")
	c.Sessions, c.Publish, c.Secret, c.Rate = 4, ts.url+"/publish/feed-procs", "s", 50
	worker(&c)
	r = run(t, c)
	if b := r.Broadcast; r.Procs != 2 || b.Published == 0 || b.Deliveries != b.Expected || b.Subscribers != 4 {
		t.Fatalf("procs %d broadcast %+v", r.Procs, b)
	}
}

// TestMainJSON runs the command's entry point and reads its JSON.
func TestMainJSON(t *testing.T) {
	ts := startServer(t)
	var out, errb bytes.Buffer
	err := bench.Main(context.Background(), []string{"echo", "-url", ts.url + "/echo", "-transport", "native", "-n", "2",
		"-warmup", "100ms", "-duration", "300ms", "-json", "-q"}, nil, &out, &errb)
	if err != nil {
		t.Fatal(err, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if m["mode"] != "echo" || m["errors"] != 0.0 || m["echo"].(map[string]any)["round_trips"].(float64) == 0 {
		t.Fatalf("%s", out.String())
	}
	if !strings.Contains(errb.String(), "round-trip latency") {
		t.Fatalf("no table on stderr: %s", errb.String())
	}
}

// A server that is not there fails the run with the dial error.
func TestNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := config(bench.ModeEcho, "http://"+addr+"/echo", "websocket")
	_, err = bench.Run(context.Background(), c, nil)
	if err == nil || !strings.Contains(err.Error(), "no session opened") {
		t.Fatalf("%v", err)
	}
}
