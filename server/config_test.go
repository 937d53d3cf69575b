package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/server"
)

func TestExampleConfigIsValid(t *testing.T) {
	cfg, err := server.LoadConfig("../ferry.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Services) != 3 || cfg.Services[2].PublishPath != "/publish/feed" || cfg.Grace != 5*time.Second {
		t.Fatalf("parsed %+v", cfg)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"empty file is the default", "", ""},
		{"minimal", "services:\n  - path: /e\n    type: echo\n", ""},
		{"syntax", "listen: [\n", "f.yaml:1: did not find expected node content"},
		{"unknown top key", "listne: x:1\n", "f.yaml:1: listne: unknown key"},
		{"duplicate key", "listen: a:1\nlisten: a:2\n", "f.yaml:2: listen: duplicate key"},
		{"bad listen", "listen: nowhere\n", `f.yaml:1: listen: "nowhere" is not a host:port address`},
		{"bad port", "listen: 127.0.0.1:99999\n", `f.yaml:1: listen: "127.0.0.1:99999" is not a host:port address`},
		{"unknown service key", "services:\n  - path: /e\n    type: echo\n    conect: x\n", "f.yaml:4: services[0].conect: unknown key"},
		{"bad type", "services:\n  - path: /e\n    type: ecco\n", `f.yaml:3: services[0].type: "ecco" is not one of echo, proxy, broadcast, bench`},
		{"missing type", "services:\n  - path: /e\n", "f.yaml:2: services[0].type: required: echo, proxy, broadcast or bench"},
		{"bad path", "services:\n  - path: e\n    type: echo\n", "f.yaml:2: services[0].path: must start with / and not end with / or contain /.ferry"},
		{"proxy without connect", "services:\n  - path: /m\n    type: proxy\n", "f.yaml:2: services[0].connect: required for a proxy: tcp://host:port"},
		{"connect on echo", "services:\n  - path: /m\n    type: echo\n    connect: tcp://a:1\n", "f.yaml:2: services[0].connect: only for type proxy"},
		{"bad duration", "services:\n  - path: /e\n    type: echo\n    heartbeat: soon\n", `f.yaml:4: services[0].heartbeat: "soon" is not a positive duration such as 30s`},
		{"bad number", "services:\n  - path: /e\n    type: echo\n    window_bytes: -1\n", `f.yaml:4: services[0].window_bytes: "-1" is not a positive integer`},
		{"bad transport", "services:\n  - path: /e\n    type: echo\n    transports: [smoke]\n", `f.yaml:4: services[0].transports: "smoke" is not one of websocket, sse, longpoll`},
		{"bad log level", "log:\n  level: loud\n", `f.yaml:2: log.level: "loud" is not one of debug, info, warn, error`},
		{"publish without secret", "services:\n  - path: /f\n    type: broadcast\n    publish_path: /p\n", "f.yaml:2: services[0].publish_secret: required to publish over HTTP"},
		{"duplicate path", "services:\n  - path: /e\n    type: echo\n  - path: /e\n    type: echo\n", "f.yaml: services[1]: path /e is already used by services[0]"},
		{"port clash", "listen: 127.0.0.1:8080\npprof: 127.0.0.1:8080\n", "f.yaml: port clash: pprof 127.0.0.1:8080 and listen use the same port"},
		{"udp port clash", "services:\n  - path: /f\n    type: broadcast\n    udp: 127.0.0.1:9000\n  - path: /g\n    type: broadcast\n    udp: 127.0.0.1:9000\n", "f.yaml: port clash: services[1].udp 127.0.0.1:9000 and services[0].udp use the same port"},
		{"tls half", "tls:\n  cert: c.pem\n", "f.yaml: tls: cert and key go together"},
		{"tls missing file", "tls:\n  cert: /nonexistent/c.pem\n  key: /nonexistent/k.pem\n", "f.yaml: tls: stat /nonexistent/c.pem: no such file or directory"},
		{"static not a dir", "static: /nonexistent/dir\n", `f.yaml: static: "/nonexistent/dir" is not a directory`},
		{"auth and limits", "services:\n  - path: /e\n    type: echo\n    auth:\n      bearer: [t1]\n      cookie: ferry\n    limits:\n      sessions_per_ip: 10\n      handshake_rate: 2.5\n", ""},
		{"unknown auth key", "services:\n  - path: /e\n    type: echo\n    auth:\n      token: x\n", "f.yaml:5: services[0].auth.token: unknown key"},
		{"bad rate", "services:\n  - path: /e\n    type: echo\n    limits:\n      handshake_rate: fast\n", `f.yaml:5: services[0].limits.handshake_rate: "fast" is not a positive number`},
		{"services not a list", "services: echo\n", "f.yaml:1: services: expected a non-empty list of services"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := server.ParseConfig("f.yaml", []byte(tc.yaml))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestCheckConfigFlag(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(f, []byte("services:\n  - path: /x\n    type: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err := server.Main(t.Context(), []string{"--config", f, "--check-config"}, &out)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:3: services[0].type") {
		t.Fatalf("--check-config on a bad file: %v", err)
	}
	err = server.Main(t.Context(), []string{"--config", "../ferry.example.yaml", "--check-config"}, &out)
	if err != nil || !strings.Contains(out.String(), "configuration ok: 3 services") {
		t.Fatalf("--check-config on the example: %v %q", err, out.String())
	}
}
