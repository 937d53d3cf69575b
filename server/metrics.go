package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/internal/wsnative"
)

// Metrics counts sessions, traffic, resumes, closes, back-end dial errors
// and refused requests per service, and serves them in the Prometheus
// text exposition format. A Gateway shares one Metrics among its services
// (Gateway.Metrics) and serves it at GET /metrics. Its methods are safe
// for concurrent use; counting on the message path is an atomic add.
//
// Series, each labelled with service (the service's Name, its path on a
// Gateway):
//
//	ferry_sessions{transport}               gauge: live sessions by carrier (websocket, sse, longpoll; plain for RFC 6455 at the service path)
//	ferry_messages_total{direction}         messages in (client to server) and out
//	ferry_bytes_total{direction}            message payload bytes in and out
//	ferry_resumes_total                     carriers re-attached: Ferry WebSocket resumes and carrier switches
//	ferry_fallbacks_total                   switches to a later carrier (websocket, then sse, then longpoll)
//	ferry_closes_total{code}                finished sessions by close code
//	ferry_backend_dial_errors_total         failed back-end dials (see BackendDialError)
//	ferry_http_requests_refused_total{status} requests refused by origin, auth or limits
//
// and, unlabelled, the process's own gauges (see writeRuntime): go_goroutines,
// go_memstats_heap_inuse_bytes, go_memstats_heap_alloc_bytes,
// go_memstats_stack_inuse_bytes, go_memstats_sys_bytes,
// go_gc_heap_live_bytes and, on Linux, process_resident_memory_bytes.
type Metrics struct {
	mu       sync.RWMutex // guards services
	services map[string]*serviceMetrics
}

// serviceMetrics holds one service's series.
type serviceMetrics struct {
	counters   emulation.Counters
	dialErrors atomic.Uint64

	mu       sync.Mutex // guards refused and sessions
	refused  map[int]uint64
	sessions func(add func(transport string, n int)) // reports live sessions
}

// NewMetrics returns an empty Metrics.
func NewMetrics() *Metrics {
	return &Metrics{services: make(map[string]*serviceMetrics)}
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
		sm = &serviceMetrics{refused: make(map[int]uint64)}
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

// refused counts a request refused with status.
func (sm *serviceMetrics) refuse(status int) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.refused[status]++
}

// ServeHTTP writes every series in the text exposition format, version
// 0.0.4.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	m.write(bw)
	_ = bw.Flush()
}

// transports lists the ferry_sessions series written for every service,
// so that each exists from the start.
var transports = []string{"websocket", "sse", "longpoll", "plain"}

type snapshot struct {
	name     string
	c        emulation.CountersSnapshot
	dial     uint64
	refused  map[int]uint64
	sessions map[string]int
}

func (m *Metrics) snapshots() []snapshot {
	m.mu.RLock()
	names := make([]string, 0, len(m.services))
	for n := range m.services {
		names = append(names, n)
	}
	m.mu.RUnlock()
	slices.Sort(names)
	out := make([]snapshot, 0, len(names))
	for _, n := range names {
		out = append(out, m.service(n).snapshot(n))
	}
	return out
}

func (sm *serviceMetrics) snapshot(name string) snapshot {
	s := snapshot{name: name, c: sm.counters.Snapshot(), dial: sm.dialErrors.Load(),
		refused: make(map[int]uint64), sessions: make(map[string]int)}
	sm.mu.Lock()
	for k, v := range sm.refused {
		s.refused[k] = v
	}
	count := sm.sessions
	sm.mu.Unlock()
	for _, t := range transports {
		s.sessions[t] = 0
	}
	if count != nil {
		count(func(t string, n int) { s.sessions[t] += n })
	}
	return s
}

func (m *Metrics) write(w *bufio.Writer) {
	all := m.snapshots()
	family(w, "ferry_sessions", "gauge", "Live sessions by service and transport.")
	for _, s := range all {
		for _, t := range sortedKeys(s.sessions) {
			sample(w, "ferry_sessions", uint64(s.sessions[t]), "service", s.name, "transport", t)
		}
	}
	family(w, "ferry_messages_total", "counter", "Messages by service and direction (in: from clients).")
	for _, s := range all {
		sample(w, "ferry_messages_total", s.c.MessagesIn, "service", s.name, "direction", "in")
		sample(w, "ferry_messages_total", s.c.MessagesOut, "service", s.name, "direction", "out")
	}
	family(w, "ferry_bytes_total", "counter", "Message payload bytes by service and direction (in: from clients).")
	for _, s := range all {
		sample(w, "ferry_bytes_total", s.c.BytesIn, "service", s.name, "direction", "in")
		sample(w, "ferry_bytes_total", s.c.BytesOut, "service", s.name, "direction", "out")
	}
	one(w, all, "ferry_resumes_total", "Carriers re-attached to a live session (Ferry WebSocket resumes and carrier switches).",
		func(s snapshot) uint64 { return s.c.Resumes })
	one(w, all, "ferry_fallbacks_total", "Sessions switched to a later carrier (websocket, then sse, then longpoll).",
		func(s snapshot) uint64 { return s.c.Fallbacks })
	family(w, "ferry_closes_total", "counter", "Finished sessions by service and close code.")
	for _, s := range all {
		for _, code := range sortedKeys(s.c.Closes) {
			sample(w, "ferry_closes_total", s.c.Closes[code], "service", s.name, "code", strconv.Itoa(int(code)))
		}
	}
	one(w, all, "ferry_backend_dial_errors_total", "Failed back-end dials by service.",
		func(s snapshot) uint64 { return s.dial })
	family(w, "ferry_http_requests_refused_total", "counter", "Requests refused by origin, auth or limits, by service and status.")
	for _, s := range all {
		for _, st := range sortedKeys(s.refused) {
			sample(w, "ferry_http_requests_refused_total", s.refused[st], "service", s.name, "status", strconv.Itoa(st))
		}
	}
	writeRuntime(w)
}

// runtimeKeys are the runtime/metrics samples writeRuntime reads; reading
// them does not stop the world, unlike runtime.ReadMemStats.
var runtimeKeys = []string{
	"/sched/goroutines:goroutines",
	"/memory/classes/heap/objects:bytes", // MemStats.HeapAlloc
	"/memory/classes/heap/unused:bytes",  // HeapInuse - HeapAlloc
	"/memory/classes/heap/stacks:bytes",  // MemStats.StackInuse
	"/memory/classes/total:bytes",        // MemStats.Sys
	"/gc/heap/live:bytes",                // live heap as of the last GC
}

// writeRuntime writes the Go runtime's gauges, named as the Prometheus Go
// client names them, and the resident set size where /proc has it.
func writeRuntime(w *bufio.Writer) {
	rs := make([]metrics.Sample, len(runtimeKeys))
	for i, k := range runtimeKeys {
		rs[i].Name = k
	}
	metrics.Read(rs)
	v := func(i int) uint64 {
		if rs[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return rs[i].Value.Uint64()
	}
	gauge := func(name, help string, x uint64) {
		family(w, name, "gauge", help)
		sample(w, name, x)
	}
	gauge("go_goroutines", "Goroutines that currently exist.", v(0))
	gauge("go_memstats_heap_inuse_bytes", "Heap bytes in in-use spans (live and not yet swept objects).", v(1)+v(2))
	gauge("go_memstats_heap_alloc_bytes", "Heap bytes of allocated objects, live and not yet swept.", v(1))
	gauge("go_memstats_stack_inuse_bytes", "Bytes of goroutine stacks in use.", v(3))
	gauge("go_memstats_sys_bytes", "Bytes of memory obtained from the OS.", v(4))
	gauge("go_gc_heap_live_bytes", "Heap bytes marked live by the last garbage collection.", v(5))
	if rss, ok := residentBytes(); ok {
		gauge("process_resident_memory_bytes", "Resident set size in bytes.", rss)
	}
}

// residentBytes reads the process's resident set size from
// /proc/self/statm; ok is false where there is no such file.
func residentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}

func one(w *bufio.Writer, all []snapshot, name, help string, v func(snapshot) uint64) {
	family(w, name, "counter", help)
	for _, s := range all {
		sample(w, name, v(s), "service", s.name)
	}
}

func family(w *bufio.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one line; labels are name, value pairs.
func sample(w *bufio.Writer, name string, v uint64, labels ...string) {
	w.WriteString(name)
	for i := 0; i+1 < len(labels); i += 2 {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		w.WriteString(sep + labels[i] + `="` + labelEscaper.Replace(labels[i+1]) + `"`)
	}
	if len(labels) > 0 {
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(strconv.FormatUint(v, 10))
	w.WriteByte('\n')
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func sortedKeys[K int | string | bytesocket.StatusCode, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// countedSocket counts a plain WebSocket's messages into a service's
// counters and remembers the close code it ended with.
type countedSocket struct {
	*wsnative.Socket
	c    *emulation.Counters
	code atomic.Int32 // close code seen on Read or Write; 0 if none
}

// Read reads a message and counts it.
func (s *countedSocket) Read(ctx context.Context) (bytesocket.MessageType, []byte, error) {
	typ, p, err := s.Socket.Read(ctx)
	if err == nil {
		s.c.In(len(p))
	}
	s.note(err)
	return typ, p, err
}

// Write writes a message and counts it.
func (s *countedSocket) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	err := s.Socket.Write(ctx, typ, p)
	if err == nil {
		s.c.Out(len(p))
	}
	s.note(err)
	return err
}

// WriteRaw sends pre-encoded frames (see wsnative.Socket.WriteRaw) and
// counts them, so a broadcast keeps its one-syscall batches through the
// metrics wrapper.
func (s *countedSocket) WriteRaw(ctx context.Context, frames net.Buffers) error {
	err := s.Socket.WriteRaw(ctx, frames)
	if err == nil {
		for _, f := range frames {
			s.c.Out(wsnative.FramePayloadLen(f))
		}
	}
	s.note(err)
	return err
}

// Close closes the socket, remembering code unless a close was seen.
func (s *countedSocket) Close(code bytesocket.StatusCode, reason string) error {
	s.code.CompareAndSwap(0, int32(code))
	return s.Socket.Close(code, reason)
}

func (s *countedSocket) note(err error) {
	if ce, ok := err.(bytesocket.CloseError); ok {
		s.code.CompareAndSwap(0, int32(ce.Code))
	}
}

// finished counts the socket's close.
func (s *countedSocket) finished() {
	code := bytesocket.StatusCode(s.code.Load())
	if code == 0 {
		code = bytesocket.StatusAbnormalClosure
	}
	s.c.Close(code)
}
