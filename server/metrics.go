package server

import (
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/ferrygw/ferry/emulation"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics counts sessions, traffic, resumes, closes, back-end dial errors
// and refused requests per service, and times handshakes, sessions and
// broadcasts. It is a prometheus.Collector of all of these, and an
// http.Handler that serves its registry (see NewMetrics and
// NewMetricsWith). A Gateway shares one Metrics among its services
// (Gateway.Metrics) and serves it at GET /metrics. Its methods are safe
// for concurrent use. Counting a message costs three atomic adds (count,
// bytes, size bucket), with no allocation and no label lookup: the
// message series are kept per service and read at each scrape.
//
// Series, each labelled with service (the service's Name, its path on a
// Gateway); transport is websocket, sse, longpoll, or plain for RFC 6455
// at the service path:
//
//	ferry_sessions{transport}                 gauge: live sessions by carrier
//	ferry_messages_total{direction}           messages in (client to server) and out
//	ferry_bytes_total{direction}              message payload bytes in and out
//	ferry_resumes_total                       carriers re-attached: Ferry WebSocket resumes and carrier switches
//	ferry_fallbacks_total                     switches to a later carrier (websocket, then sse, then longpoll)
//	ferry_closes_total{code}                  finished sessions by close code
//	ferry_backend_dial_errors_total           failed back-end dials (see BackendDialError)
//	ferry_http_requests_refused_total{status} requests refused by origin, auth or limits
//	ferry_fallback_transitions_total{from,to} ferry_fallbacks_total by the carrier left and the one taken
//	ferry_handshake_seconds{transport}        histogram, see handshakeBuckets
//	ferry_session_duration_seconds{transport} histogram, see durationBuckets
//	ferry_resume_gap_messages                 histogram, see gapBuckets
//	ferry_message_size_bytes{direction}       histogram, see sizeBuckets; its _count and _sum are ferry_messages_total and ferry_bytes_total
//	ferry_broadcast_queue_seconds             histogram, see queueBuckets (BroadcastQueue)
//
// A Metrics made by NewMetrics also serves the Go runtime's and the
// process's series (collectors.NewGoCollector and NewProcessCollector):
// go_goroutines, go_memstats_heap_inuse_bytes, go_memstats_heap_alloc_bytes,
// go_memstats_stack_inuse_bytes, go_memstats_sys_bytes, go_gc_heap_live_bytes,
// process_resident_memory_bytes and the rest of those collectors' series.
type Metrics struct {
	handler http.Handler // promhttp, over the registry served
	series  *series

	mu       sync.RWMutex // guards services
	services map[string]*serviceMetrics
}

// serviceMetrics holds one service's counters and resolved series.
type serviceMetrics struct {
	name       string
	series     *series
	counters   emulation.Counters
	inSizes    sizeHistogram // counters.InSizes
	outSizes   sizeHistogram // counters.OutSizes
	dialErrors atomic.Uint64
	gap        prometheus.Observer // ferry_resume_gap_messages{service}

	mu       sync.Mutex // guards refused and sessions
	refused  map[int]uint64
	sessions func(add func(transport string, n int)) // reports live sessions
}

// liveHeap adds go_gc_heap_live_bytes to the Go collector's default series.
var liveHeap = collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)}

// NewMetrics returns an empty Metrics with a registry of its own, which
// also holds the Go runtime and process collectors. Nothing is registered
// with prometheus.DefaultRegisterer, so any number of Metrics (of
// gateways in one process) coexist.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	reg.MustRegister(m,
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(liveHeap)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// NewMetricsWith returns an empty Metrics registered with reg, which
// gets Ferry's series only: the Go and process collectors are the
// application's to register (prometheus.DefaultRegisterer has them). It
// fails if reg refuses the series, as it does when another Metrics is
// registered there already (give gateways that share a registry one
// Metrics). ServeHTTP serves reg when it is also a prometheus.Gatherer (a
// *prometheus.Registry is), else Ferry's series alone. A nil reg means
// NewMetrics.
func NewMetricsWith(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return NewMetrics(), nil
	}
	g, ok := reg.(prometheus.Gatherer)
	var own *prometheus.Registry
	if !ok {
		own = prometheus.NewRegistry()
		g = own
	}
	m := newMetrics(g)
	if err := reg.Register(m); err != nil {
		return nil, err
	}
	if own != nil {
		own.MustRegister(m)
	}
	return m, nil
}

func newMetrics(g prometheus.Gatherer) *Metrics {
	return &Metrics{
		handler: promhttp.HandlerFor(g, promhttp.HandlerOpts{
			EnableOpenMetrics: true,
			ErrorHandling:     promhttp.ContinueOnError, // a failing collector costs its series, not the page
		}),
		series:   newSeries(),
		services: make(map[string]*serviceMetrics),
	}
}

// ServeHTTP serves the registry in the format the request's Accept header
// negotiates: the Prometheus text format (version 0.0.4) by default,
// OpenMetrics or protobuf when asked for. A nil r gets the text format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r == nil {
		r = &http.Request{Method: http.MethodGet, Header: http.Header{}}
	}
	w.Header().Set("Cache-Control", "no-store")
	m.handler.ServeHTTP(w, r)
}

// service returns the series of the named service, creating them.
func (m *Metrics) service(name string) *serviceMetrics {
	m.mu.RLock()
	sm := m.services[name]
	m.mu.RUnlock()
	if sm != nil {
		return sm
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if sm = m.services[name]; sm == nil {
		sm = m.series.forService(name)
		m.services[name] = sm
	}
	return sm
}

// BackendDialError counts one failed dial of the named service's back end
// (a proxy service calls it when its TCP connect fails). service is the
// service's Name, which Gateway.Handle sets to its path.
func (m *Metrics) BackendDialError(service string) {
	m.service(service).dialErrors.Add(1)
}

// BroadcastQueue returns the named service's ferry_broadcast_queue_seconds,
// for BroadcastConfig.QueueTime.
func (m *Metrics) BroadcastQueue(service string) prometheus.Observer {
	return m.series.queue.WithLabelValues(service)
}

// refuse counts a request refused with status.
func (sm *serviceMetrics) refuse(status int) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.refused[status]++
}
