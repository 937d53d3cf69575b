package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/ferrygw/ferry/server"
)

func TestHostAllowed(t *testing.T) {
	hosts := []string{"app.example", "*.app.example"}
	cases := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"10.1.2.3", true},
		{"[::1]:8080", true},
		{"[2001:db8::1]", true},
		{"localhost:8080", true},
		{"LOCALHOST", true},
		{"app.example:8443", true},
		{"APP.Example", true},
		{"eu.app.example", true},
		{"rebind.attacker.test:8080", false},
		{"app.example.attacker.test", false},
		{"localhost.attacker.test", false},
		{"127.0.0.1.attacker.test", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := server.HostAllowed(hosts, tc.host); got != tc.want {
			t.Errorf("HostAllowed(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
	if !server.HostAllowed([]string{"*"}, "anything.test") {
		t.Error(`"*" does not allow any host`)
	}
}

// gatewayRequest serves one request with host and origin to g.
func gatewayRequest(g http.Handler, method, path, host, origin string) (int, string) {
	r := httptest.NewRequest(method, path, nil)
	r.Host = host
	r.RemoteAddr = "127.0.0.1:40000"
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "text/plain")
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// TestDNSRebinding sends what a page on a rebound name sends: its Host
// and a matching Origin. Every route but /healthz answers 421, and such
// a request is never same-origin; IP literals, localhost and listed
// names are served.
func TestDNSRebinding(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	const rebind = "rebind.attacker.test:8080"
	for _, path := range []string{"/", "/client.js", "/metrics", "/echo", "/echo/.ferry/open", "/nowhere"} {
		method := http.MethodGet
		if strings.HasSuffix(path, "/open") {
			method = http.MethodPost
		}
		code, body := gatewayRequest(g, method, path, rebind, "http://"+rebind)
		if code != http.StatusMisdirectedRequest || body != "ferry: host not allowed\n" {
			t.Errorf("%s %s from a rebound name: %d %q, want 421", method, path, code, body)
		}
	}
	if code, _ := gatewayRequest(g, "GET", "/healthz", rebind, ""); code != 200 {
		t.Errorf("/healthz under any name: %d, want 200", code)
	}
	for _, host := range []string{"localhost:8080", "127.0.0.1:8080", "[::1]:8080"} {
		if code, body := gatewayRequest(g, "POST", "/echo/.ferry/open", host, "http://"+host); code != 200 {
			t.Errorf("same-origin open on %s: %d %q", host, code, body)
		}
	}

	g.Hosts = []string{"app.example", "*.app.example"}
	for _, host := range []string{"app.example", "eu.app.example:8443"} {
		if code, body := gatewayRequest(g, "POST", "/echo/.ferry/open", host, "https://"+host); code != 200 {
			t.Errorf("same-origin open on listed %s: %d %q", host, code, body)
		}
	}
	if code, _ := gatewayRequest(g, "POST", "/echo/.ferry/open", rebind, "http://"+rebind); code != 421 {
		t.Errorf("rebound name with hosts set: %d, want 421", code)
	}
}

// TestDNSRebindingWire sends the rebinding requests over a real
// connection: a native WebSocket upgrade and a POST open.
func TestDNSRebindingWire(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	addr := serveGateway(t, g)
	_, port, _ := strings.Cut(addr, ":")
	host := "rebind.attacker.test:" + port
	for _, tc := range []struct{ method, path string }{{"GET", "/echo"}, {"POST", "/echo/.ferry/open"}} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, nil)
		req.Host = host
		req.Header.Set("Origin", "http://"+host)
		if tc.method == "GET" {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 421 || string(body) != "ferry: host not allowed\n" {
			t.Errorf("%s %s: %d %q, want 421", tc.method, tc.path, resp.StatusCode, body)
		}
	}
}

// TestServiceHosts checks a Service used without a gateway: a page on a
// rebound name is not same-origin unless ServiceConfig.Hosts lists it.
func TestServiceHosts(t *testing.T) {
	const host = "rebind.attacker.test"
	for _, tc := range []struct {
		hosts []string
		want  int
	}{{nil, 403}, {[]string{host}, 200}} {
		svc := server.NewService(server.ServiceConfig{Hosts: tc.hosts}, server.Echo)
		mux := http.NewServeMux()
		mux.Handle("/echo/", http.StripPrefix("/echo", svc))
		if code, body := gatewayRequest(mux, "POST", "/echo/.ferry/open", host, "http://"+host); code != tc.want {
			t.Errorf("Hosts %v: %d %q, want %d", tc.hosts, code, body, tc.want)
		}
	}
}

// TestHostsConfig checks what the hosts key and the listen address add
// to the allow-list.
func TestHostsConfig(t *testing.T) {
	cases := []struct {
		yaml string
		want []string
	}{
		{"listen: 127.0.0.1:8080\n", nil},
		{"listen: 0.0.0.0:8080\n", nil},
		{"listen: :8080\n", nil},
		{"listen: localhost:8080\n", nil},
		{"listen: ferry.internal:8080\n", []string{"ferry.internal"}},
		{"listen: ferry.internal:8080\nhosts: [app.example, '*.app.example']\n", []string{"ferry.internal", "app.example", "*.app.example"}},
	}
	for _, tc := range cases {
		cfg, err := server.ParseConfig("t.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		g, err := server.Build(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(g.Hosts, tc.want) {
			t.Errorf("%q: hosts %q, want %q", tc.yaml, g.Hosts, tc.want)
		}
	}
}
