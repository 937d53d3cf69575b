package bench

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
)

func parse(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	c, err := ParseArgs(args, io.Discard)
	if err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestParseDefaults(t *testing.T) {
	c, err := parse(t, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "http://127.0.0.1:8080/echo" || c.Transport != "websocket" || c.Target != "ferry" ||
		c.Sessions != 1 || c.Size != 64 || c.Inflight != 1 || c.Duration != 5*time.Second ||
		c.Warmup != time.Second || c.MaxDuration != 30*time.Second || c.Rate != 0 {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = parse(t, "-mode", "broadcast", "-publish", "http://localhost:8080/publish/feed", "-secret", "s", "-transport", "plain")
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "http://127.0.0.1:8080/feed" || c.Rate != 100 || c.Transport != "native" || c.TextTimestamps {
		t.Fatalf("broadcast defaults: %+v", c)
	}
	c, err = parse(t, "hold", "-n", "10", "-duration", "8s", "-url", "ws://[::1]:9000/echo")
	if err != nil {
		t.Fatal(err)
	}
	if c.Warmup != 0 || c.Settle != 4*time.Second || c.MetricsURL != "http://[::1]:9000/metrics" {
		t.Fatalf("hold defaults: %+v", c)
	}
	if c, _ = parse(t, "down"); c.URL != "http://127.0.0.1:8080/bench" {
		t.Fatalf("down URL %s", c.URL)
	}
	if _, err := ParseArgs([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}

func TestParseRefusals(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no mode"},
		{[]string{"flood"}, `unknown mode "flood"`},
		{[]string{"echo", "extra"}, "unexpected argument"},
		{[]string{"echo", "-target", "nope"}, `unknown -target "nope"`},
		{[]string{"echo", "-transport", "xhr"}, `-transport "xhr"`},
		{[]string{"echo", "-url", "ftp://127.0.0.1/echo"}, "want a http/https/ws/wss URL"},
		{[]string{"echo", "-url", "http://10.1.2.3:8080/echo"}, "not a loopback address"},
		{[]string{"echo", "-url", "http://[2001:db8::1]:8080/echo"}, "not a loopback address"},
		{[]string{"echo", "-n", "0"}, "-n 0"},
		{[]string{"echo", "-n", "100001"}, "-n 100001"},
		{[]string{"echo", "-size", "-1"}, "-size -1"},
		{[]string{"echo", "-size", "20000000"}, "-size 20000000"},
		{[]string{"echo", "-inflight", "0"}, "-inflight 0"},
		{[]string{"down", "-inflight", "2"}, "echo only"},
		{[]string{"echo", "-rate", "10"}, "broadcast only"},
		{[]string{"echo", "-procs", "65"}, "-procs 65"},
		{[]string{"echo", "-duration", "0s"}, "-duration must be positive"},
		{[]string{"echo", "-duration", "30s"}, "over -max-duration 30s"},
		{[]string{"echo", "-max-duration", "2h"}, "-max-duration 2h0m0s"},
		{[]string{"hold", "-duration", "2s", "-settle", "3s"}, "shorter than -duration"},
		{[]string{"broadcast"}, "exactly one of -publish URL and -udp ADDR"},
		{[]string{"broadcast", "-udp", "127.0.0.1:9", "-publish", "http://127.0.0.1/p"}, "exactly one of"},
		{[]string{"broadcast", "-udp", "10.0.0.1:9"}, "-udp 10.0.0.1:9 is not a loopback address"},
		{[]string{"broadcast", "-udp", "nowhere"}, "want host:port"},
		{[]string{"broadcast", "-udp", "127.0.0.1:9", "-size", "8"}, "8-byte timestamp"},
		{[]string{"broadcast", "-udp", "127.0.0.1:9", "-secret", "s"}, "-secret goes with -publish"},
		{[]string{"broadcast", "-publish", "http://192.0.2.1/publish/feed"}, "-publish http://192.0.2.1/publish/feed is not a loopback"},
		{[]string{"echo", "-udp", "127.0.0.1:9"}, "broadcast only"},
		{[]string{"hold", "-metrics", "http://192.0.2.1/metrics"}, "-metrics"},
		{[]string{"echo", "-pprof", "http://192.0.2.1:6060"}, "-pprof"},
		{[]string{"echo", "-dial-concurrency", "0"}, "-dial-concurrency 0"},
	} {
		_, err := parse(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
	// -allow-remote lifts only the loopback check.
	if _, err := parse(t, "echo", "-url", "http://10.1.2.3:8080/echo", "-allow-remote"); err != nil {
		t.Errorf("-allow-remote: %v", err)
	}
	if _, err := parse(t, "echo", "-url", "http://localhost:8080/echo"); err != nil {
		t.Errorf("localhost: %v", err)
	}
}

func TestTargets(t *testing.T) {
	RegisterTarget("test-target", func(context.Context, string, string) (bytesocket.Socket, error) {
		return nil, errors.New("test")
	})
	names := TargetNames()
	if len(names) < 2 || !strings.Contains(strings.Join(names, ","), "ferry") {
		t.Fatalf("targets %v", names)
	}
	c, err := parse(t, "broadcast", "-target", "test-target", "-transport", "xhr-streaming", "-publish", "http://127.0.0.1:3000/publish")
	if err != nil {
		t.Fatal(err)
	}
	if !c.TextTimestamps || c.Size < timestampBytes(true) {
		t.Fatalf("another target's broadcast should default to text timestamps: %+v", c)
	}
	if _, err := parse(t, "broadcast", "-target", "test-target", "-size", "10", "-publish", "http://127.0.0.1:3000/publish"); err == nil {
		t.Fatal("a 10-byte message cannot hold a text timestamp")
	}
	for _, f := range []func(){
		func() { RegisterTarget("ferry", DialFerry) },
		func() { RegisterTarget("", DialFerry) },
		func() { RegisterTarget("x", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("RegisterTarget did not panic")
				}
			}()
			f()
		}()
	}
}

func TestMakePlan(t *testing.T) {
	for _, c := range []struct {
		transport string
		share     bool
		n, procs  int
		limit     uint64
		want      []int
		sources   int
	}{
		{"native", false, 19000, 0, 20000, []int{19000}, 1},
		{"websocket", false, 19900, 0, 20000, []int{9950, 9950}, 1},
		{"sse", false, 10000, 0, 20000, []int{5000, 5000}, 1},
		{"sse", true, 10000, 0, 20000, []int{10000}, 1},
		{"longpoll", false, 19000, 0, 20000, []int{9500, 9500}, 2},
		{"native", false, 5, 2, 20000, []int{3, 2}, 1},
		{"native", false, 1, 4, 20000, []int{1}, 1},
		{"sse", false, 30000, 0, 20000, []int{7500, 7500, 7500, 7500}, 3},
	} {
		cfg := Config{Target: "ferry", URL: "http://127.0.0.1:8080/echo", Transport: c.transport, ShareHTTP: c.share, Sessions: c.n, Procs: c.procs}
		p, err := MakePlan(&cfg, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if p.Procs != len(c.want) || !equalInts(p.Shares, c.want) || p.Sources != c.sources {
			t.Errorf("%s n=%d procs=%d: %+v, want shares %v sources %d", c.transport, c.n, c.procs, p, c.want, c.sources)
		}
	}
	cfg := Config{Target: "ferry", URL: "http://127.0.0.1:8080/echo", Transport: "sse", Sessions: MaxSessions}
	if _, err := MakePlan(&cfg, 1024); err == nil {
		t.Error("a plan over MaxProcs was accepted")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseMetrics(t *testing.T) {
	in := `# HELP ferry_sessions Live sessions.
# TYPE ferry_sessions gauge
ferry_sessions{service="/echo",transport="sse"} 3
ferry_sessions{service="/a{b}",transport="websocket"} 4
go_goroutines 17
go_memstats_heap_inuse_bytes 1.5e+06
`
	m, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m["ferry_sessions"] != 7 || m["go_goroutines"] != 17 || m["go_memstats_heap_inuse_bytes"] != 1.5e6 {
		t.Fatalf("%v", m)
	}
	if _, err := parseMetrics(strings.NewReader("x{a=\"b\" \n")); err == nil {
		t.Fatal("accepted a bad line")
	}
}

func TestPerSession(t *testing.T) {
	b := MemSnapshot{RSSBytes: 1000, HeapInuseBytes: 100, StackInuseBytes: 10, Goroutines: 5}
	a := MemSnapshot{RSSBytes: 5000, HeapInuseBytes: 2100, StackInuseBytes: 810, Goroutines: 25}
	p := perSession(b, a, 10)
	if p.RSSBytes != 400 || p.HeapStackBytes != 280 || p.Goroutines != 2 {
		t.Fatalf("%+v", p)
	}
}

func TestStamps(t *testing.T) {
	now := time.Now()
	for _, text := range []bool{false, true} {
		p := bytes.Repeat([]byte{' '}, 64)
		stampMessage(p, now, text)
		got, ok := readStamp(p, text)
		if !ok || got.UnixNano() != now.UnixNano() {
			t.Errorf("text %v: %v %v, want %v", text, got, ok, now)
		}
		if _, ok := readStamp(p[:timestampBytes(text)], text); ok {
			t.Errorf("text %v: a short message has a stamp", text)
		}
	}
}
