package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// MemSnapshot is the server's memory at one moment, from its /metrics
// (Go heap, stacks, goroutines, sessions) and /proc (RSS). Fields that
// could not be read are 0.
type MemSnapshot struct {
	RSSBytes        int64 `json:"rss_bytes"`         // /proc/PID/status VmRSS, else process_resident_memory_bytes
	HeapInuseBytes  int64 `json:"heap_inuse_bytes"`  // go_memstats_heap_inuse_bytes
	StackInuseBytes int64 `json:"stack_inuse_bytes"` // go_memstats_stack_inuse_bytes
	HeapLiveBytes   int64 `json:"heap_live_bytes"`   // go_gc_heap_live_bytes (as of the last GC)
	Goroutines      int64 `json:"goroutines"`        // go_goroutines
	Sessions        int64 `json:"sessions"`          // the sum of ferry_sessions
}

// MemPerSession is the growth between two snapshots divided by the
// sessions held.
type MemPerSession struct {
	RSSBytes       float64 `json:"rss_bytes"`
	HeapStackBytes float64 `json:"heap_stack_bytes"` // heap in use + stacks in use
	HeapLiveBytes  float64 `json:"heap_live_bytes"`
	Goroutines     float64 `json:"goroutines"`
}

func perSession(before, after MemSnapshot, n int) MemPerSession {
	d := func(a, b int64) float64 { return float64(b-a) / float64(n) }
	return MemPerSession{
		RSSBytes:       d(before.RSSBytes, after.RSSBytes),
		HeapStackBytes: d(before.HeapInuseBytes+before.StackInuseBytes, after.HeapInuseBytes+after.StackInuseBytes),
		HeapLiveBytes:  d(before.HeapLiveBytes, after.HeapLiveBytes),
		Goroutines:     d(before.Goroutines, after.Goroutines),
	}
}

// memProbe reads the server's memory.
type memProbe struct {
	metricsURL string
	pprofURL   string
	pid        int
	hc         *http.Client
}

func newMemProbe(c *Config) *memProbe {
	return &memProbe{metricsURL: c.MetricsURL, pprofURL: c.PprofURL, pid: c.ServerPID,
		hc: &http.Client{Timeout: 30 * time.Second}}
}

// snapshot forces a GC through pprof when it can, then reads /metrics
// and /proc. Errors are returned joined but the snapshot keeps what was
// read.
func (m *memProbe) snapshot(ctx context.Context) (MemSnapshot, error) {
	var s MemSnapshot
	var errs []string
	if m.pprofURL != "" {
		if err := m.forceGC(ctx); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if m.metricsURL != "" {
		vals, err := m.scrape(ctx)
		if err != nil {
			errs = append(errs, err.Error())
		}
		s.HeapInuseBytes = int64(vals["go_memstats_heap_inuse_bytes"])
		s.StackInuseBytes = int64(vals["go_memstats_stack_inuse_bytes"])
		s.HeapLiveBytes = int64(vals["go_gc_heap_live_bytes"])
		s.Goroutines = int64(vals["go_goroutines"])
		s.Sessions = int64(vals["ferry_sessions"])
		s.RSSBytes = int64(vals["process_resident_memory_bytes"])
	}
	if m.pid > 0 {
		rss, err := procRSS(m.pid)
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			s.RSSBytes = rss
		}
	}
	if len(errs) > 0 {
		return s, fmt.Errorf("reading server memory: %s", strings.Join(errs, "; "))
	}
	return s, nil
}

// forceGC asks net/http/pprof for a heap profile after a GC.
func (m *memProbe) forceGC(ctx context.Context) error {
	base := strings.TrimSuffix(strings.TrimSuffix(m.pprofURL, "/"), "/debug/pprof")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof heap: HTTP %d", resp.StatusCode)
	}
	return nil
}

// scrape reads the Prometheus text at metricsURL, summing each metric's
// series over their labels.
func (m *memProbe) scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", m.metricsURL, resp.StatusCode)
	}
	return parseMetrics(io.LimitReader(resp.Body, 16<<20))
}

// parseMetrics sums the samples of the Prometheus text format by metric
// name.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		rest := line[len(name):]
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				return out, fmt.Errorf("bad metrics line %q", line)
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return out, fmt.Errorf("bad metrics line %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return out, fmt.Errorf("bad metrics line %q", line)
		}
		out[name] += v
	}
	return out, sc.Err()
}

// procRSS reads VmRSS of process pid.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times on Linux.
const clockTicks = 100

// procCPU reads the user + system CPU time of process pid.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// After the command: state is field 3, utime 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}
