package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// The series whose values are kept elsewhere (emulation.Counters, the
// session stores, sizeHistogram) and read at each scrape, so that the
// message path stays three atomic adds.
var (
	sessionsDesc = desc("ferry_sessions", "Live sessions by service and transport.", "transport")
	messagesDesc = desc("ferry_messages_total", "Messages by service and direction (in: from clients).", "direction")
	bytesDesc    = desc("ferry_bytes_total", "Message payload bytes by service and direction (in: from clients).", "direction")
	resumesDesc  = desc("ferry_resumes_total",
		"Carriers re-attached to a live session (Ferry WebSocket resumes and carrier switches).")
	fallbacksDesc = desc("ferry_fallbacks_total", "Sessions switched to a later carrier (websocket, then sse, then longpoll).")
	closesDesc    = desc("ferry_closes_total", "Finished sessions by service and close code.", "code")
	dialDesc      = desc("ferry_backend_dial_errors_total", "Failed back-end dials by service.")
	refusedDesc   = desc("ferry_http_requests_refused_total",
		"Requests refused by origin, auth or limits, by service and status.", "status")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append([]string{"service"}, labels...), nil)
}

// transports lists the ferry_sessions series written for every service,
// so that each exists from the start.
var transports = []string{"websocket", "sse", "longpoll", "plain"}

// Describe sends the descriptors of every Ferry series (prometheus.Collector).
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sessionsDesc, messagesDesc, bytesDesc, sizesDesc, resumesDesc,
		fallbacksDesc, closesDesc, dialDesc, refusedDesc} {
		ch <- d
	}
	m.series.describe(ch)
}

// Collect sends the current value of every Ferry series (prometheus.Collector).
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.RLock()
	all := make([]*serviceMetrics, 0, len(m.services))
	for _, sm := range m.services {
		all = append(all, sm)
	}
	m.mu.RUnlock()
	for _, sm := range all {
		sm.collect(ch)
	}
	m.series.collect(ch)
}

func (sm *serviceMetrics) collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{sm.name}, labels...)...)
	}
	in, out := sm.inSizes.buckets(), sm.outSizes.buckets() // before the counts they must not exceed
	c := sm.counters.Snapshot()
	counter(messagesDesc, c.MessagesIn, "in")
	counter(messagesDesc, c.MessagesOut, "out")
	counter(bytesDesc, c.BytesIn, "in")
	counter(bytesDesc, c.BytesOut, "out")
	ch <- prometheus.MustNewConstHistogram(sizesDesc, c.MessagesIn, float64(c.BytesIn), in, sm.name, "in")
	ch <- prometheus.MustNewConstHistogram(sizesDesc, c.MessagesOut, float64(c.BytesOut), out, sm.name, "out")
	counter(resumesDesc, c.Resumes)
	counter(fallbacksDesc, c.Fallbacks)
	for code, n := range c.Closes {
		counter(closesDesc, n, strconv.Itoa(int(code)))
	}
	counter(dialDesc, sm.dialErrors.Load())
	refused, sessions := sm.snapshot()
	for status, n := range refused {
		counter(refusedDesc, n, strconv.Itoa(status))
	}
	for t, n := range sessions {
		ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(n), sm.name, t)
	}
}

// snapshot copies the refusal counts and counts live sessions by
// transport, every one of transports included.
func (sm *serviceMetrics) snapshot() (refused map[int]uint64, sessions map[string]int) {
	refused, sessions = make(map[int]uint64), make(map[string]int)
	for _, t := range transports {
		sessions[t] = 0
	}
	sm.mu.Lock()
	for k, v := range sm.refused {
		refused[k] = v
	}
	count := sm.sessions
	sm.mu.Unlock()
	if count != nil {
		count(func(t string, n int) { sessions[t] += n })
	}
	return refused, sessions
}

var _ prometheus.Collector = (*Metrics)(nil)
