package server_test

import (
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/ferrygw/ferry/server"
)

func TestMetricsRuntime(t *testing.T) {
	ts := httptest.NewServer(server.NewGateway(nil, nil))
	defer ts.Close()
	m := scrape(t, ts.URL)
	for _, k := range []string{
		"go_goroutines{}", "go_memstats_heap_inuse_bytes{}", "go_memstats_heap_alloc_bytes{}",
		"go_memstats_stack_inuse_bytes{}", "go_memstats_sys_bytes{}",
	} {
		if m[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, m[k])
		}
	}
	if _, ok := m["go_gc_heap_live_bytes{}"]; !ok { // 0 before the first GC
		t.Error("no go_gc_heap_live_bytes")
	}
	if m["go_memstats_heap_inuse_bytes{}"] < m["go_memstats_heap_alloc_bytes{}"] {
		t.Errorf("heap in use %v < heap alloc %v", m["go_memstats_heap_inuse_bytes{}"], m["go_memstats_heap_alloc_bytes{}"])
	}
	// The process collector reads /proc on Linux; elsewhere it may or may
	// not have the figure.
	if m["process_resident_memory_bytes{}"] <= 0 && runtime.GOOS == "linux" {
		t.Errorf("process_resident_memory_bytes = %v, want > 0", m["process_resident_memory_bytes{}"])
	}
}
