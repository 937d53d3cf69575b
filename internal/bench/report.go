package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// ResultVersion is the version of the JSON shape of Result.
const ResultVersion = 1

// Result is what a run measured; it is printed as a table (WriteTable)
// and as JSON. Exactly one of Echo, Down, Up, Broadcast and Hold is set,
// after the mode.
type Result struct {
	Tool      string    `json:"tool"` // "ferry-bench"
	Version   int       `json:"version"`
	Mode      string    `json:"mode"`
	Target    string    `json:"target"`
	Transport string    `json:"transport"`
	URL       string    `json:"url"`
	Started   time.Time `json:"started"`

	Sessions     int     `json:"sessions"`      // asked for
	SessionsOpen int     `json:"sessions_open"` // opened
	Procs        int     `json:"procs"`         // client processes
	Size         int     `json:"size"`
	Inflight     int     `json:"inflight,omitempty"`
	Rate         float64 `json:"rate,omitempty"`
	WarmupS      float64 `json:"warmup_s"`
	DurationS    float64 `json:"duration_s"`

	// Errors counts sessions that failed to open or failed while running,
	// and failed publishes. A clean run has none.
	Errors        int      `json:"errors"`
	DialErrors    int      `json:"dial_errors"`
	ErrorSamples  []string `json:"error_samples,omitempty"`
	CloseTimeouts int      `json:"close_timeouts"` // closing handshakes not done in time (not errors)
	Warnings      []string `json:"warnings,omitempty"`

	// MessagesAll counts the messages moved over the whole run, warm-up
	// and drain included (echo: round trips; up: as the server counted).
	MessagesAll uint64 `json:"messages_all"`

	Dial           Latency `json:"dial"`                       // time to open one session
	ClientCPUS     float64 `json:"client_cpu_s"`               // client processes' CPU time over warm-up + duration
	ServerCPUCores float64 `json:"server_cpu_cores,omitempty"` // server CPU time / duration, with -server-pid

	Echo      *EchoResult      `json:"echo,omitempty"`
	Down      *Traffic         `json:"down,omitempty"`
	Up        *Traffic         `json:"up,omitempty"`
	Broadcast *BroadcastResult `json:"broadcast,omitempty"`
	Hold      *HoldResult      `json:"hold,omitempty"`
}

// Latency summarizes a histogram in microseconds.
type Latency struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

func summarize(h *Histogram) Latency {
	us := func(d time.Duration) float64 { return math.Round(float64(d)/1e2) / 10 }
	return Latency{
		Count: h.Count(), Mean: us(h.Mean()), P50: us(h.Quantile(0.5)), P90: us(h.Quantile(0.9)),
		P99: us(h.Quantile(0.99)), P999: us(h.Quantile(0.999)), Max: us(h.Max()),
	}
}

// EchoResult is the echo mode's measurement.
type EchoResult struct {
	RoundTrips uint64  `json:"round_trips"` // started and finished within the window
	PerS       float64 `json:"round_trips_per_s"`
	Latency    Latency `json:"latency"`
}

// Traffic is the down and up modes' measurement: messages counted within
// the window, in total and per session.
type Traffic struct {
	Messages           uint64  `json:"messages"`
	Bytes              uint64  `json:"bytes"`
	MsgsPerS           float64 `json:"msgs_per_s"`
	MBPerS             float64 `json:"mb_per_s"` // 10^6 bytes
	PerSessionMsgsPerS Spread  `json:"per_session_msgs_per_s"`
	PerSessionMBPerS   float64 `json:"per_session_mb_per_s"` // mean
}

// Spread is the mean, smallest and largest of a per-session figure.
type Spread struct {
	Mean float64 `json:"mean"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// BroadcastResult is the broadcast mode's measurement. Deliveries count
// the messages published within the window that subscribers received;
// Expected is Published × subscribers, so a clean run has them equal.
type BroadcastResult struct {
	Published     uint64  `json:"published"` // within the window
	PublishedPerS float64 `json:"published_per_s"`
	PublishErrors uint64  `json:"publish_errors"`
	PublishLate   uint64  `json:"publish_late"` // sent behind schedule: the publisher could not keep the rate
	Subscribers   int     `json:"subscribers"`
	// Unfinished counts subscribers that had not received every message
	// 10 s after the window: their missing deliveries are late, not lost.
	Unfinished     int     `json:"unfinished"`
	Deliveries     uint64  `json:"deliveries"`
	Expected       uint64  `json:"expected"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	Latency        Latency `json:"latency"` // receive time - send time in the message
}

// HoldResult is the hold mode's measurement: the server's memory before
// the sessions opened and while they were held, and the growth per
// session.
type HoldResult struct {
	Before     MemSnapshot   `json:"before"`
	After      MemSnapshot   `json:"after"`
	PerSession MemPerSession `json:"per_session"`
}

// fill sets the mode's figures from the merged partial.
func (r *Result) fill(c *Config, p *Partial) {
	r.SessionsOpen, r.DialErrors = p.Open, p.DialErrors
	r.Errors += p.DialErrors + p.Errors
	r.ErrorSamples = append(r.ErrorSamples, p.ErrorSamples...)
	r.CloseTimeouts = p.CloseTimeouts
	r.Dial = summarize(p.Dial)
	r.MessagesAll = p.All
	r.ClientCPUS = math.Round(p.CPU*1000) / 1000
	secs := c.Duration.Seconds()
	switch c.Mode {
	case ModeEcho:
		r.Echo = &EchoResult{RoundTrips: p.Messages, PerS: round1(float64(p.Messages) / secs), Latency: summarize(p.Latency)}
	case ModeDown, ModeUp:
		t := &Traffic{Messages: p.Messages, Bytes: p.Bytes, MsgsPerS: round1(float64(p.Messages) / secs),
			MBPerS: round3(float64(p.Bytes) / secs / 1e6)}
		if p.Open > 0 {
			t.PerSessionMsgsPerS = Spread{Mean: round1(t.MsgsPerS / float64(p.Open)),
				Min: round1(float64(p.SessionMin) / secs), Max: round1(float64(p.SessionMax) / secs)}
			t.PerSessionMBPerS = round3(t.MBPerS / float64(p.Open))
		}
		if c.Mode == ModeDown {
			r.Down = t
		} else {
			r.Up = t
		}
	case ModeBroadcast:
		r.Broadcast = &BroadcastResult{Subscribers: p.Open, Unfinished: p.NoFence, Deliveries: p.Messages,
			DeliveriesPerS: round1(float64(p.Messages) / secs), Latency: summarize(p.Latency)}
	}
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable writes r for people.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	row("ferry-bench "+r.Mode, "target %s, transport %s, %s", r.Target, r.Transport, r.URL)
	row("sessions", "%d open of %d, %d client process(es), %d B messages", r.SessionsOpen, r.Sessions, r.Procs, r.Size)
	row("period", "%.3gs measured after %.3gs warm-up", r.DurationS, r.WarmupS)
	row("dial", "p50 %s  p99 %s  max %s", us(r.Dial.P50), us(r.Dial.P99), us(r.Dial.Max))
	lat := func(name string, l Latency) {
		row(name, "p50 %s  p99 %s  p99.9 %s  max %s  (mean %s, n=%d)",
			us(l.P50), us(l.P99), us(l.P999), us(l.Max), us(l.Mean), l.Count)
	}
	switch {
	case r.Echo != nil:
		row("round trips", "%d  (%.1f/s, inflight %d per session)", r.Echo.RoundTrips, r.Echo.PerS, r.Inflight)
		lat("round-trip latency", r.Echo.Latency)
	case r.Down != nil || r.Up != nil:
		t := r.Down
		if t == nil {
			t = r.Up
		}
		row("messages", "%d  (%.1f msgs/s, %.3f MB/s)", t.Messages, t.MsgsPerS, t.MBPerS)
		row("per session", "%.1f msgs/s (min %.1f, max %.1f), %.3f MB/s", t.PerSessionMsgsPerS.Mean,
			t.PerSessionMsgsPerS.Min, t.PerSessionMsgsPerS.Max, t.PerSessionMBPerS)
	case r.Broadcast != nil:
		b := r.Broadcast
		row("published", "%d  (%.1f/s, rate %s, %d late, %d errors)", b.Published, b.PublishedPerS, rateString(r.Rate), b.PublishLate, b.PublishErrors)
		row("deliveries", "%d of %d expected  (%.1f/s to %d subscribers, %d unfinished)", b.Deliveries, b.Expected, b.DeliveriesPerS, b.Subscribers, b.Unfinished)
		lat("delivery latency", b.Latency)
	case r.Hold != nil:
		h := r.Hold
		row("server before", "%s", memString(h.Before))
		row("server held", "%s", memString(h.After))
		p := h.PerSession
		row("per session", "RSS %s, heap+stacks %s, live heap %s, %.2f goroutines",
			bytesString(p.RSSBytes), bytesString(p.HeapStackBytes), bytesString(p.HeapLiveBytes), p.Goroutines)
	}
	if r.ServerCPUCores > 0 {
		row("server CPU", "%.2f cores", r.ServerCPUCores)
	}
	row("client CPU", "%.2f s", r.ClientCPUS)
	row("errors", "%d  (%d dial errors, %d slow closes)", r.Errors, r.DialErrors, r.CloseTimeouts)
	for _, s := range r.ErrorSamples {
		row("  error", "%s", s)
	}
	for _, s := range r.Warnings {
		row("  warning", "%s", s)
	}
	return tw.Flush()
}

func us(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fms", v/1e3)
	}
	return fmt.Sprintf("%.1fµs", v)
}

func rateString(r float64) string {
	if r == 0 {
		return "max"
	}
	return fmt.Sprintf("%g/s", r)
}

func bytesString(b float64) string {
	a := math.Abs(b)
	switch {
	case a >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func memString(m MemSnapshot) string {
	var parts []string
	if m.RSSBytes > 0 {
		parts = append(parts, "RSS "+bytesString(float64(m.RSSBytes)))
	}
	parts = append(parts, "heap "+bytesString(float64(m.HeapInuseBytes)), "stacks "+bytesString(float64(m.StackInuseBytes)),
		"live heap "+bytesString(float64(m.HeapLiveBytes)), fmt.Sprintf("%d goroutines, %d sessions", m.Goroutines, m.Sessions))
	return strings.Join(parts, ", ")
}
