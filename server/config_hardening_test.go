package server_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ferrygw/ferry/server"
)

// TestConfigLimitKeys parses the keys of the server's own limits and
// exposure, and refuses bad values naming file, line and key.
func TestConfigLimitKeys(t *testing.T) {
	cfg, err := server.ParseConfig("f.yaml", []byte("hosts: [app.example, '*.app.example', '[::1]']\n"+
		"max_header_bytes: 8192\nidle_timeout: 30s\nmax_connections: 1000\nmetrics: public\n"+
		"services:\n  - path: /f\n    type: broadcast\n    udp: 127.0.0.1:9000\n    udp_sources: [10.0.0.0/8, 192.0.2.1, '::1/128']\n"))
	if err != nil {
		t.Fatal(err)
	}
	sources := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("::1/128")}
	if !slices.Equal(cfg.Hosts, []string{"app.example", "*.app.example", "[::1]"}) || cfg.MaxHeaderBytes != 8192 ||
		cfg.IdleTimeout != 30*time.Second || cfg.MaxConnections != 1000 || cfg.Metrics != "public" ||
		!slices.Equal(cfg.Services[0].UDPSources, sources) {
		t.Fatalf("parsed %+v", cfg)
	}
	if d, _ := server.ParseConfig("f.yaml", nil); d.Metrics != "local" {
		t.Errorf("metrics default %q, want local", d.Metrics)
	}

	cases := []struct{ name, yaml, want string }{
		{"host with port", "hosts: [app.example:8080]\n", `f.yaml:1: hosts: "app.example:8080" is not a host name pattern such as app.example or *.example.org (no port)`},
		{"bad host pattern", "hosts: ['[app']\n", `f.yaml:1: hosts: "[app" is not a host name pattern such as app.example or *.example.org (no port)`},
		{"bad header limit", "max_header_bytes: 0\n", `f.yaml:1: max_header_bytes: "0" is not a positive integer`},
		{"bad idle timeout", "idle_timeout: forever\n", `f.yaml:1: idle_timeout: "forever" is not a positive duration such as 30s`},
		{"bad connection limit", "max_connections: -5\n", `f.yaml:1: max_connections: "-5" is not a positive integer`},
		{"bad metrics", "metrics: private\n", `f.yaml:1: metrics: "private" is not local, public, off or a host:port address`},
		{"bad metrics port", "metrics: 127.0.0.1:99999\n", `f.yaml:1: metrics: "127.0.0.1:99999" is not a host:port address`},
		{"metrics port clash", "listen: 127.0.0.1:8080\nmetrics: 127.0.0.1:8080\n", "f.yaml: port clash: metrics 127.0.0.1:8080 and listen use the same port"},
		{"bad udp source", "services:\n  - path: /f\n    type: broadcast\n    udp_sources: [10.0.0.0/33]\n", `f.yaml:4: services[0].udp_sources: "10.0.0.0/33" is not a CIDR prefix such as 10.0.0.0/8`},
		{"empty udp sources", "services:\n  - path: /f\n    type: broadcast\n    udp_sources: []\n", "f.yaml:4: services[0].udp_sources: expected a non-empty list of CIDR prefixes"},
		{"udp sources on echo", "services:\n  - path: /e\n    type: echo\n    udp_sources: [10.0.0.0/8]\n", "f.yaml:2: services[0].udp: udp, udp_sources and publish_* are only for type broadcast"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := server.ParseConfig("f.yaml", []byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %q", err, tc.want)
			}
		})
	}
}
