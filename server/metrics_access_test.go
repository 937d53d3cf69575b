package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferrygw/ferry/server"
)

// TestMetricsAccess checks whom GET /metrics answers under each
// MetricsAccess; the others get what an unknown path gets.
func TestMetricsAccess(t *testing.T) {
	const remote, local = "192.0.2.7:40000", "127.0.0.1:40000"
	cases := []struct {
		name    string
		access  server.MetricsAccess
		peer    string
		header  string // a forwarding header, "Name: value"
		allowed bool
	}{
		{"local from loopback", server.MetricsLocal, local, "", true},
		{"local from IPv6 loopback", server.MetricsLocal, "[::1]:40000", "", true},
		{"local from elsewhere", server.MetricsLocal, remote, "", false},
		{"local through a proxy (X-Forwarded-For)", server.MetricsLocal, local, "X-Forwarded-For: 192.0.2.7", false},
		{"local through a proxy (Forwarded)", server.MetricsLocal, local, "Forwarded: for=192.0.2.7", false},
		{"local through a proxy (X-Real-IP)", server.MetricsLocal, local, "X-Real-IP: 192.0.2.7", false},
		{"public from elsewhere", server.MetricsPublic, remote, "", true},
		{"off from loopback", server.MetricsOff, local, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := server.NewGateway(nil, nil)
			g.MetricsAccess = tc.access
			get := func(path string) *httptest.ResponseRecorder {
				r := httptest.NewRequest("GET", path, nil)
				r.Host, r.RemoteAddr = "127.0.0.1:8080", tc.peer
				if k, v, ok := strings.Cut(tc.header, ": "); ok {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				g.ServeHTTP(w, r)
				return w
			}
			w := get("/metrics")
			if tc.allowed {
				if w.Code != 200 || !strings.Contains(w.Body.String(), "go_goroutines") {
					t.Fatalf("allowed: %d %q", w.Code, w.Body.String())
				}
				return
			}
			unknown := get("/no-such-path")
			if w.Code != 404 || w.Body.String() != unknown.Body.String() {
				t.Fatalf("refused: %d %q, want what an unknown path gets: %d %q", w.Code, w.Body.String(), unknown.Code, unknown.Body.String())
			}
		})
	}
}

// TestMetricsListener serves /metrics on an address of its own: it
// answers there, and not on the main listener.
func TestMetricsListener(t *testing.T) {
	maddr := freeAddr(t)
	addr := runConfig(t, "metrics: "+maddr+"\n")
	for _, tc := range []struct {
		url  string
		want int
	}{{"http://" + maddr + "/metrics", 200}, {"http://" + addr + "/metrics", 404}} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || tc.want == 200 && !strings.Contains(string(body), "ferry_sessions") {
			t.Errorf("GET %s: %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
}
