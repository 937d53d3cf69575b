package server

import (
	"time"

	"github.com/ferrygw/ferry/emulation"
	"github.com/prometheus/client_golang/prometheus"
)

// Buckets of the histograms, upper bounds (sizeBuckets: see sizeHistogram).
var (
	// handshakeBuckets (seconds, 1 ms to 10 s): the server sees a Ferry
	// WebSocket handshake as one request (the session is created and
	// attached in the upgrade) and a plain one as its upgrade, both well
	// under the first bucket; sse and longpoll take the client's round
	// trip from POST open to the first downstream request.
	handshakeBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// durationBuckets (seconds, 1 s to 1 day): from page views to
	// dashboards left open.
	durationBuckets = []float64{1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 12 * 3600, 24 * 3600}
	// gapBuckets (messages, 0 to 4096, the retention window's message
	// cap): 0 is a resume that lost nothing in flight.
	gapBuckets = []float64{0, 1, 4, 16, 64, 256, 1024, 4096}
	// queueBuckets (seconds, 25 µs to 1 s): a fan-out pass hands a batch to
	// thousands of subscribers in about a millisecond.
	queueBuckets = []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, .001, .0025, .005, .01, .025, .05, .1, .25, 1}
)

// series holds a Metrics' histograms and labelled counters.
type series struct {
	handshake   *prometheus.HistogramVec // service, transport
	duration    *prometheus.HistogramVec // service, transport
	gap         *prometheus.HistogramVec // service
	queue       *prometheus.HistogramVec // service
	transitions *prometheus.CounterVec   // service, from, to
}

func newSeries() *series {
	hist := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets},
			append([]string{"service"}, labels...))
	}
	return &series{
		handshake: hist("ferry_handshake_seconds",
			"Time from a session's creation to its first carrier attached (plain: from the upgrade request to the upgrade done), by that carrier.",
			handshakeBuckets, "transport"),
		duration: hist("ferry_session_duration_seconds",
			"Time from a session's creation to its end, by its last carrier.", durationBuckets, "transport"),
		gap: hist("ferry_resume_gap_messages",
			"Frames after the client's last received one that a resumed carrier sends again from the retention window (unconfirmed, or queued while no carrier was attached); one sample per ferry_resumes_total.",
			gapBuckets),
		queue: hist("ferry_broadcast_queue_seconds",
			"Time from a broadcast Publish until the message is queued for every subscriber (in each session's retention window or plain WebSocket's send queue); the carriers' writes come after and are not included.",
			queueBuckets),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_fallback_transitions_total",
			Help: "Sessions switched to a later carrier, by the carrier left and the one taken, as the server sees them: clients report no reason."},
			[]string{"service", "from", "to"}),
	}
}

func (s *series) describe(ch chan<- *prometheus.Desc) {
	for _, c := range s.collectors() {
		c.Describe(ch)
	}
}

func (s *series) collect(ch chan<- prometheus.Metric) {
	for _, c := range s.collectors() {
		c.Collect(ch)
	}
}

func (s *series) collectors() [5]prometheus.Collector {
	return [...]prometheus.Collector{s.handshake, s.duration, s.gap, s.queue, s.transitions}
}

// fallbacks are the carrier switches ferry_fallbacks_total counts; their
// ferry_fallback_transitions_total series exist from the start.
var fallbacks = [][2]string{{"websocket", "sse"}, {"websocket", "longpoll"}, {"sse", "longpoll"}}

// forService returns a service's metrics with its message-path series
// resolved, so that counting a message looks nothing up.
func (s *series) forService(name string) *serviceMetrics {
	sm := &serviceMetrics{name: name, series: s, refused: make(map[int]uint64),
		gap: s.gap.WithLabelValues(name)}
	sm.counters.InSizes, sm.counters.OutSizes = &sm.inSizes, &sm.outSizes
	sm.counters.OnAttach = sm.attached
	for _, f := range fallbacks {
		s.transitions.WithLabelValues(name, f[0], f[1])
	}
	return sm
}

// attached records a session's first carrier and its resumes.
func (sm *serviceMetrics) attached(a emulation.Attached) {
	if a.First {
		sm.handshake(a.To, a.Open)
	}
	if a.Resume {
		sm.gap.Observe(float64(a.Gap))
	}
	if a.Fallback {
		sm.series.transitions.WithLabelValues(sm.name, a.From, a.To).Inc()
	}
}

// handshake records a session's handshake time on its first carrier.
func (sm *serviceMetrics) handshake(transport string, d time.Duration) {
	sm.series.handshake.WithLabelValues(sm.name, transport).Observe(d.Seconds())
}

// finished records the life of a session that ended on transport.
func (sm *serviceMetrics) finished(transport string, d time.Duration) {
	sm.series.duration.WithLabelValues(sm.name, transport).Observe(d.Seconds())
}
