package bench

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func keys(m map[string]any) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// The JSON keys are an interface: scripts read them.
func TestResultJSONShape(t *testing.T) {
	p := &Partial{Open: 4, DialErrors: 1, Errors: 2, ErrorSamples: []string{"boom"}, Dial: NewHistogram(), Latency: NewHistogram(),
		Messages: 1000, Bytes: 64000, SessionMin: 200, SessionMax: 300, CPU: 1.5}
	for i := range 1000 {
		p.Latency.Record(time.Duration(i) * time.Microsecond)
		p.Dial.Record(time.Millisecond)
	}
	top := []string{"client_cpu_s", "close_timeouts", "dial", "dial_errors", "duration_s", "error_samples", "errors", "messages_all", "mode",
		"procs", "sessions", "sessions_open", "size", "started", "target", "tool", "transport", "url", "version", "warmup_s"}
	latency := []string{"count", "max_us", "mean_us", "p50_us", "p90_us", "p999_us", "p99_us"}
	for _, c := range []struct {
		mode, section string
		extraTop      []string
		fields        []string
	}{
		{ModeEcho, "echo", []string{"inflight"}, []string{"latency", "round_trips", "round_trips_per_s"}},
		{ModeDown, "down", nil, []string{"bytes", "mb_per_s", "messages", "msgs_per_s", "per_session_mb_per_s", "per_session_msgs_per_s"}},
		{ModeUp, "up", nil, []string{"bytes", "mb_per_s", "messages", "msgs_per_s", "per_session_mb_per_s", "per_session_msgs_per_s"}},
		{ModeBroadcast, "broadcast", []string{"rate"}, []string{"deliveries", "deliveries_per_s", "expected", "latency", "publish_errors",
			"publish_late", "published", "published_per_s", "subscribers", "unfinished"}},
		{ModeHold, "hold", nil, []string{"after", "before", "per_session"}},
	} {
		cfg := Config{Mode: c.mode, Target: "ferry", Transport: "sse", URL: "http://127.0.0.1:8080/x", Sessions: 5, Size: 64,
			Inflight: 1, Rate: 10, Duration: 2 * time.Second, Warmup: time.Second}
		r := &Result{Tool: "ferry-bench", Version: ResultVersion, Mode: c.mode, Target: cfg.Target, Transport: cfg.Transport,
			URL: cfg.URL, Sessions: 5, Procs: 1, Size: 64, DurationS: 2, WarmupS: 1}
		if c.mode == ModeEcho {
			r.Inflight = 1
		}
		if c.mode == ModeBroadcast {
			r.Rate = 10
		}
		r.fill(&cfg, p)
		if c.mode == ModeHold {
			r.Hold = &HoldResult{PerSession: perSession(MemSnapshot{}, MemSnapshot{RSSBytes: 4000}, 4)}
		}
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		want := append(append(slices.Clone(top), c.extraTop...), c.section)
		slices.Sort(want)
		if got := keys(m); !slices.Equal(got, want) {
			t.Errorf("%s: top-level keys\n%v, want\n%v", c.mode, got, want)
		}
		sec, _ := m[c.section].(map[string]any)
		if got := keys(sec); !slices.Equal(got, c.fields) {
			t.Errorf("%s: %s keys %v, want %v", c.mode, c.section, got, c.fields)
		}
		if l, ok := sec["latency"].(map[string]any); ok && !slices.Equal(keys(l), latency) {
			t.Errorf("%s: latency keys %v", c.mode, keys(l))
		}
		if m["errors"] != 3.0 || m["sessions_open"] != 4.0 {
			t.Errorf("%s: errors %v sessions_open %v", c.mode, m["errors"], m["sessions_open"])
		}
		var table bytes.Buffer
		if err := r.WriteTable(&table); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(table.String(), "ferry-bench "+c.mode) || !strings.Contains(table.String(), "boom") {
			t.Errorf("%s: table\n%s", c.mode, table.String())
		}
	}
	// Figures per second divide by the measured duration.
	cfg := Config{Mode: ModeDown, Duration: 2 * time.Second}
	r := &Result{}
	r.fill(&cfg, p)
	if r.Down.MsgsPerS != 500 || r.Down.MBPerS != 0.032 || r.Down.PerSessionMsgsPerS != (Spread{Mean: 125, Min: 100, Max: 150}) {
		t.Errorf("down figures %+v", r.Down)
	}
	if r.ClientCPUS != 1.5 || r.Dial.P50 != 1000 {
		t.Errorf("cpu %v dial p50 %v", r.ClientCPUS, r.Dial.P50)
	}
}
