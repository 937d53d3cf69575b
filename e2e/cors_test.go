package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCORS loads the test page from one origin and talks to the CORS
// gateway on another, whose origin list holds only the pages server's
// 127.0.0.1 origin: every target must get an echo from the listed origin
// and be refused (error, then close 1006, never open) from the others.
func TestCORS(t *testing.T) {
	needBrowser(t)
	host := strings.TrimPrefix(env.corsURL, "http://")
	pages := []struct {
		name, origin string
		allowed      bool
	}{
		{"listed origin", env.pagesURL, true},
		{"same port, other host name", env.pagesAlt, false},
		{"unlisted origin", env.mainURL, false},
	}
	targets := append([]string{"native", "auto"}, ferryTransports...)
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			tb := newTab(t)
			tb.open(p.origin + "/e2e/api.html")
			eval[any](tb, fmt.Sprintf("E2E.configure({host: %q})", host))
			want := "error close:1006::false"
			if p.allowed {
				want = "open message:hi close:1000::true"
			}
			for _, target := range targets {
				r := tb.run(target, "echo-one", nil, 60*time.Second)
				if r.Error != "" {
					t.Errorf("%s: %s", target, r.Error)
					continue
				}
				got := r.Checks["log"]
				if got != want {
					t.Errorf("page %s -> %s, %s: %v, want %q", p.origin, env.corsURL, target, got, want)
				}
				if p.allowed && target != "native" && target != "auto" && r.Info["transport"] != target {
					t.Errorf("%s: transport %v", target, r.Info["transport"])
				}
				t.Logf("page %s -> %s, %-9s: %v (transport %v)", p.origin, env.corsURL, target, got, r.Info["transport"])
			}
		})
	}
}

// TestCORSHeaders checks, without a browser, what the browser relies on
// above: the listed origin gets Access-Control-Allow-Origin on the HTTP
// open, another origin gets 403.
func TestCORSHeaders(t *testing.T) {
	for _, tc := range []struct {
		origin string
		status int
		acao   string
	}{
		{env.pagesURL, http.StatusOK, env.pagesURL},
		{env.pagesAlt, http.StatusForbidden, ""},
		{env.mainURL, http.StatusForbidden, ""},
	} {
		req, _ := http.NewRequest(http.MethodPost, env.corsURL+"/echo/.ferry/open", strings.NewReader(""))
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		req.Header.Set("Origin", tc.origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != tc.acao {
			t.Errorf("Origin %s: %s, Access-Control-Allow-Origin %q; want %d, %q", tc.origin, resp.Status,
				resp.Header.Get("Access-Control-Allow-Origin"), tc.status, tc.acao)
		}
	}
}
