package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/ferrygw/ferry/server"
)

// TestCORSCredentials checks that a cross-origin page from an allowed
// origin gets Access-Control-Allow-Credentials: true on the emulation
// requests (preflight, open, event stream) only when
// Gateway.CORSCredentials is on, and a refused origin never does.
func TestCORSCredentials(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[on], func(t *testing.T) {
			g := server.NewGateway([]string{"https://app.example"}, nil)
			g.CORSCredentials = on
			g.Handle("/echo", server.ServiceConfig{}, server.Echo)
			ts := newServer(g)
			defer ts.Close()
			checkCredentials(t, ts.URL, on)
		})
	}
}

// TestCORSCredentialsConfig checks the cors_credentials key: it reaches
// the gateway through Build, and is refused with an origin list that
// allows any host, at the top level or a service's own, from the file or
// from --origins.
func TestCORSCredentialsConfig(t *testing.T) {
	base := "cors_credentials: true\norigins: [https://app.example]\n"
	cfg, err := server.ParseConfig("f.yaml", []byte(base))
	if err != nil || !cfg.CORSCredentials {
		t.Fatalf("parsed %+v, %v", cfg, err)
	}
	g, err := server.Build(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(g)
	defer ts.Close()
	checkCredentials(t, ts.URL, true)

	refused := `cors_credentials: not allowed with %s, which allows any host: ` +
		`any site could make requests with its visitors' cookies; list the allowed origins`
	for _, tc := range []struct{ name, yaml, want string }{
		{"any origin", "cors_credentials: true\norigins: [\"*\"]\n", `origins "*"`},
		{"any https host", "cors_credentials: true\norigins: [https://app.example, \"https://*\"]\n", `origins "https://*"`},
		{"any host on a port", "cors_credentials: true\norigins: [\"http://*:8080\"]\n", `origins "http://*:8080"`},
		{"service's own", base + "services:\n  - path: /e\n    type: echo\n    origins: [\"*\"]\n", `services[0].origins "*"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := server.ParseConfig("f.yaml", []byte(tc.yaml))
			if want := "f.yaml: " + strings.Replace(refused, "%s", tc.want, 1); err == nil || err.Error() != want {
				t.Fatalf("error %v\nwant %s", err, want)
			}
		})
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"off with any origin", "cors_credentials: false\norigins: [\"*\"]\n", ""},
		{"subdomain pattern", "cors_credentials: true\norigins: [\"https://*.example.org\"]\n", ""},
		{"not a bool", "cors_credentials: yes\n", `f.yaml:1: cors_credentials: "yes" is not true or false`},
		{"quoted", "cors_credentials: \"true\"\n", `f.yaml:1: cors_credentials: "true" is not true or false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := server.ParseConfig("f.yaml", []byte(tc.yaml))
			if err == nil && tc.want != "" || err != nil && err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}

	t.Run("--origins", func(t *testing.T) {
		f := t.TempDir() + "/f.yaml"
		if err := os.WriteFile(f, []byte(base), 0o600); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		err := server.Main(t.Context(), []string{"--config", f, "--origins", "*", "--check-config"}, &out)
		if want := strings.Replace(refused, "%s", `origins "*"`, 1); err == nil || err.Error() != want {
			t.Fatalf("error %v\nwant %s", err, want)
		}
	})
}

// TestCORSCredentialsAnyOriginPanics checks that Handle refuses
// CORSCredentials with an origin list that allows any host.
func TestCORSCredentialsAnyOriginPanics(t *testing.T) {
	g := server.NewGateway([]string{"https://app.example"}, nil)
	g.CORSCredentials = true
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `origin "*", which allows any host, for /open`) {
			t.Fatalf("recovered %v", r)
		}
	}()
	g.Handle("/safe", server.ServiceConfig{}, server.Echo)
	g.Handle("/open", server.ServiceConfig{Origins: []string{"*"}}, server.Echo)
}

// checkCredentials sends cross-origin emulation requests to an echo
// service at /echo that allows https://app.example, and checks their
// CORS headers.
func checkCredentials(t *testing.T, base string, on bool) {
	t.Helper()
	want := map[bool]string{false: "", true: "true"}[on]
	do := func(method, path, origin string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Origin", origin)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	check := func(what string, resp *http.Response, origin, credentials string) {
		t.Helper()
		h := resp.Header
		if h.Get("Access-Control-Allow-Origin") != origin || h.Get("Access-Control-Allow-Credentials") != credentials {
			t.Errorf("%s: %s, Allow-Origin %q, Allow-Credentials %q; want %q, %q", what, resp.Status,
				h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"), origin, credentials)
		}
	}
	app := "https://app.example"
	pre := do(http.MethodOptions, "/echo/.ferry/open", app, map[string]string{
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization",
	})
	check("preflight", pre, app, want)
	open := do(http.MethodPost, "/echo/.ferry/open", app, map[string]string{"Content-Type": "text/plain;charset=UTF-8"})
	check("open", open, app, want)
	var o struct{ Session string }
	if err := json.NewDecoder(open.Body).Decode(&o); err != nil {
		t.Fatal(err)
	}
	check("event stream", do(http.MethodGet, "/echo/.ferry/"+o.Session+"/sse?last=0", app, nil), app, want)
	check("refused origin", do(http.MethodPost, "/echo/.ferry/open", "https://evil.example", nil), "", "")
}
