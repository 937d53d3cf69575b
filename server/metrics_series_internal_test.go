package server

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetricsResumeGapAndFallback walks a session from a Ferry WebSocket
// to sse to long-poll and checks the resume gap histogram and the
// fallback transitions.
func TestMetricsResumeGapAndFallback(t *testing.T) {
	m := NewMetrics()
	sm := m.service("/x")
	sv := &emulation.Server{Counters: &sm.counters}
	s, err := sv.NewSession(httptest.NewRequest("GET", "/.ferry/ws", nil), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Fail(bytesocket.CloseError{Code: bytesocket.StatusGoingAway})
	attach := func(last uint64, transport string) {
		t.Helper()
		l, err := s.AttachLeg(last, transport, false)
		if err != nil {
			t.Fatal(err)
		}
		l.Detach()
	}
	attach(0, "websocket")
	for range 3 {
		if err := s.Write(context.Background(), bytesocket.Text, []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	attach(1, "sse")      // the client lost frames 2 and 3: gap 2, websocket → sse
	attach(3, "longpoll") // nothing lost: gap 0, sse → longpoll
	attach(3, "longpoll") // the next poll: no resume

	for _, tc := range []struct {
		from, to string
		want     float64
	}{{"websocket", "sse", 1}, {"sse", "longpoll", 1}, {"websocket", "longpoll", 0}} {
		if v := testutil.ToFloat64(m.series.transitions.WithLabelValues("/x", tc.from, tc.to)); v != tc.want {
			t.Errorf("ferry_fallback_transitions_total %s→%s = %v, want %v", tc.from, tc.to, v, tc.want)
		}
	}
	want := `# HELP ferry_fallbacks_total Sessions switched to a later carrier (websocket, then sse, then longpoll).
# TYPE ferry_fallbacks_total counter
ferry_fallbacks_total{service="/x"} 2
# HELP ferry_resume_gap_messages Frames after the client's last received one that a resumed carrier sends again from the retention window (unconfirmed, or queued while no carrier was attached); one sample per ferry_resumes_total.
# TYPE ferry_resume_gap_messages histogram
ferry_resume_gap_messages_bucket{service="/x",le="0"} 1
ferry_resume_gap_messages_bucket{service="/x",le="1"} 1
ferry_resume_gap_messages_bucket{service="/x",le="4"} 2
ferry_resume_gap_messages_bucket{service="/x",le="16"} 2
ferry_resume_gap_messages_bucket{service="/x",le="64"} 2
ferry_resume_gap_messages_bucket{service="/x",le="256"} 2
ferry_resume_gap_messages_bucket{service="/x",le="1024"} 2
ferry_resume_gap_messages_bucket{service="/x",le="4096"} 2
ferry_resume_gap_messages_bucket{service="/x",le="+Inf"} 2
ferry_resume_gap_messages_sum{service="/x"} 2
ferry_resume_gap_messages_count{service="/x"} 2
# HELP ferry_resumes_total Carriers re-attached to a live session (Ferry WebSocket resumes and carrier switches).
# TYPE ferry_resumes_total counter
ferry_resumes_total{service="/x"} 2
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want),
		"ferry_fallbacks_total", "ferry_resume_gap_messages", "ferry_resumes_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m, "ferry_handshake_seconds"); n != 1 {
		t.Fatalf("ferry_handshake_seconds: %d series, want 1 (websocket)", n)
	}
}

// TestMetricsSizeBucket checks sizeBucket against sizeBuckets at every
// bound.
func TestMetricsSizeBucket(t *testing.T) {
	if got := sizeBucket(0); got != 0 {
		t.Errorf("sizeBucket(0) = %d, want 0", got)
	}
	for i, b := range sizeBuckets {
		n := uint64(b)
		if got := sizeBucket(n); got != i {
			t.Errorf("sizeBucket(%d) = %d, want %d", n, got, i)
		}
		if got := sizeBucket(n + 1); got != i+1 {
			t.Errorf("sizeBucket(%d) = %d, want %d", n+1, got, i+1)
		}
	}
	if got := sizeBucket(1 << 62); got != len(sizeBuckets) {
		t.Errorf("sizeBucket(2^62) = %d, want %d", got, len(sizeBuckets))
	}
}

// TestMetricsMessagePathAllocs checks that counting a message, sizes
// included, allocates nothing.
func TestMetricsMessagePathAllocs(t *testing.T) {
	c := &NewMetrics().service("/x").counters
	if n := testing.AllocsPerRun(1000, func() {
		c.In(100)
		c.Out(70000)
	}); n != 0 {
		t.Fatalf("%v allocations per message pair, want 0", n)
	}
}

// BenchmarkMetricsMessagePath measures counting one message in and one
// out into a service's metrics, as every carrier does, from one goroutine
// and from all at once.
func BenchmarkMetricsMessagePath(b *testing.B) {
	c := &NewMetrics().service("/x").counters
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.In(100)
			c.Out(70000)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.In(100)
				c.Out(70000)
			}
		})
	})
}
