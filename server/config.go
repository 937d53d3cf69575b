package server

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the ferry command's configuration, read from a YAML file by
// LoadConfig. Every key is documented in README.md and ferry.example.yaml.
type Config struct {
	Listen   string        // address to serve on; default 127.0.0.1:8080
	Origins  []string      // allowed page origins besides the server's own host
	Hosts    []string      // Host names allowed besides IP literals, localhost and the listen host
	TLSCert  string        // certificate file; with TLSKey, serve https/wss
	TLSKey   string        // private key file
	H2C      bool          // serve cleartext HTTP/2 with prior knowledge (h2c) besides HTTP/1.1; default false; not with TLS
	LogLevel string        // debug, info (default), warn, error
	LogJSON  bool          // log as JSON instead of text
	Pprof    string        // address of a separate pprof listener; "" for none
	Metrics  string        // who gets /metrics: local (default), public, off, or a host:port of its own
	Static   string        // directory served at / (instead of the demo page)
	Grace    time.Duration // shutdown grace period; default 5s

	CORSCredentials bool // CORS answers allow credentials (cookies); default false (Gateway.CORSCredentials)

	MaxHeaderBytes int           // request line and headers; default 64 KiB (Gateway.MaxHeaderBytes)
	IdleTimeout    time.Duration // keep-alive idle timeout; default 120s (Gateway.IdleTimeout)
	MaxConnections int           // open connections; default from RLIMIT_NOFILE (see maxConnections)

	Services []ServiceSpec // default: echo at /echo
}

// ServiceSpec is one entry of the services list.
type ServiceSpec struct {
	Path       string   // URL path, e.g. /echo
	Type       string   // echo, proxy, broadcast or bench
	Origins    []string // replaces the top-level origins for this service
	Protocols  []string // accepted subprotocols ("*": any)
	Transports []string // carriers offered to Ferry's client

	Heartbeat       time.Duration
	ResumeTimeout   time.Duration
	MaxMessageBytes int
	WindowBytes     int
	MaxSessions     int
	MaxBodyFrames   int           // frames in one upstream POST; default 4096
	UploadTimeout   time.Duration // time an upstream body may take; default 30s
	HeaderBytes     int           // opening headers a session keeps; default 8 KiB

	Connect     string        // proxy: tcp://host:port of the back end
	DialTimeout time.Duration // proxy: back-end dial timeout
	Coalesce    int           // proxy: largest binary message to the client

	AuthBearer      []string      // accepted bearer tokens (header or AuthCookie)
	AuthCookie      string        // cookie carrying a bearer token
	AuthHook        string        // URL asked to allow or deny each new session
	AuthHookTimeout time.Duration // hook timeout; default 5s

	SessionsPerIP  int     // live sessions per client address; 0: no limit
	HandshakeRate  float64 // new sessions per second per client address; 0: no limit
	HandshakeBurst int     // handshake bucket size; default max(1, rate)

	UDP           string         // broadcast: datagram feed address
	UDPSources    []netip.Prefix // broadcast: datagram sources accepted; default loopback
	PublishPath   string         // broadcast: HTTP publish path; default /publish<path>
	PublishSecret string         // broadcast: bearer token required to publish
}

// DefaultConfig is what the ferry command runs without a file.
func DefaultConfig() *Config {
	return &Config{
		Listen: "127.0.0.1:8080", LogLevel: "info", Grace: 5 * time.Second, Metrics: "local",
		Services: []ServiceSpec{{Path: "/echo", Type: "echo", Protocols: []string{"*"}}},
	}
}

// LoadConfig reads and validates a YAML configuration file. Errors name
// the file, the line and the key.
func LoadConfig(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseConfig(file, data)
}

// ParseConfig parses and validates YAML configuration data; name is used
// in error messages.
func ParseConfig(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		var line int
		if _, serr := fmt.Sscanf(msg, "line %d:", &line); serr == nil {
			msg = strconv.Itoa(line) + ":" + strings.SplitN(msg, ":", 2)[1]
			return nil, fmt.Errorf("%s:%s", name, msg)
		}
		return nil, fmt.Errorf("%s: %s", name, msg)
	}
	cfg := DefaultConfig()
	cfg.Services = nil
	p := &parser{file: name}
	if len(root.Content) > 0 {
		p.top(root.Content[0], cfg)
	}
	if p.err != nil {
		return nil, p.err
	}
	if cfg.Services == nil {
		cfg.Services = DefaultConfig().Services
	}
	if err := p.check(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parser walks the YAML tree, keeping the first error.
type parser struct {
	file string
	err  error
}

func (p *parser) fail(n *yaml.Node, key, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%s:%d: %s: %s", p.file, n.Line, key, fmt.Sprintf(format, args...))
	}
}

// fields calls set for each key of mapping n, refusing unknown keys.
func (p *parser) fields(n *yaml.Node, where string, set map[string]func(key string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.fail(n, where, "expected a mapping")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if where != "" {
			key = where + "." + k.Value
		}
		f, ok := set[k.Value]
		switch {
		case !ok:
			p.fail(k, key, "unknown key")
		case seen[k.Value]:
			p.fail(k, key, "duplicate key")
		default:
			f(key, v)
		}
		seen[k.Value] = true
	}
}

func (p *parser) top(n *yaml.Node, c *Config) {
	p.fields(n, "", map[string]func(string, *yaml.Node){
		"listen":           p.addr(&c.Listen),
		"origins":          p.strings(&c.Origins),
		"hosts":            p.hosts(&c.Hosts),
		"static":           p.str(&c.Static),
		"pprof":            p.addr(&c.Pprof),
		"metrics":          p.metrics(&c.Metrics),
		"grace":            p.duration(&c.Grace),
		"max_header_bytes": p.positive(&c.MaxHeaderBytes),
		"idle_timeout":     p.duration(&c.IdleTimeout),
		"max_connections":  p.positive(&c.MaxConnections),
		"cors_credentials": p.boolean(&c.CORSCredentials),
		"h2c":              p.boolean(&c.H2C),
		"services":         func(key string, v *yaml.Node) { p.services(key, v, c) },
		"tls": func(key string, v *yaml.Node) {
			p.fields(v, key, map[string]func(string, *yaml.Node){
				"cert": p.str(&c.TLSCert), "key": p.str(&c.TLSKey),
			})
		},
		"log": func(key string, v *yaml.Node) {
			p.fields(v, key, map[string]func(string, *yaml.Node){
				"level": p.oneOf(&c.LogLevel, "debug", "info", "warn", "error"),
				"format": func(key string, v *yaml.Node) {
					var f string
					p.oneOf(&f, "text", "json")(key, v)
					c.LogJSON = f == "json"
				},
			})
		},
	})
}

func (p *parser) services(key string, n *yaml.Node, c *Config) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.fail(n, key, "expected a non-empty list of services")
		return
	}
	for i, sn := range n.Content {
		var s ServiceSpec
		at := fmt.Sprintf("%s[%d]", key, i)
		p.fields(sn, at, map[string]func(string, *yaml.Node){
			"path":              p.str(&s.Path),
			"type":              p.oneOf(&s.Type, "echo", "proxy", "broadcast", "bench"),
			"origins":           p.strings(&s.Origins),
			"protocols":         p.strings(&s.Protocols),
			"transports":        p.transports(&s.Transports),
			"heartbeat":         p.duration(&s.Heartbeat),
			"resume_timeout":    p.duration(&s.ResumeTimeout),
			"max_message_bytes": p.positive(&s.MaxMessageBytes),
			"window_bytes":      p.positive(&s.WindowBytes),
			"max_sessions":      p.positive(&s.MaxSessions),
			"connect":           p.str(&s.Connect),
			"dial_timeout":      p.duration(&s.DialTimeout),
			"coalesce_bytes":    p.positive(&s.Coalesce),
			"udp":               p.addr(&s.UDP),
			"udp_sources":       p.prefixes(&s.UDPSources),
			"auth": func(key string, v *yaml.Node) {
				p.fields(v, key, map[string]func(string, *yaml.Node){
					"bearer": p.strings(&s.AuthBearer), "cookie": p.str(&s.AuthCookie),
					"hook": p.str(&s.AuthHook), "hook_timeout": p.duration(&s.AuthHookTimeout),
				})
			},
			"limits": func(key string, v *yaml.Node) {
				p.fields(v, key, map[string]func(string, *yaml.Node){
					"sessions_per_ip": p.positive(&s.SessionsPerIP), "handshake_rate": p.rate(&s.HandshakeRate),
					"handshake_burst": p.positive(&s.HandshakeBurst), "max_sessions": p.positive(&s.MaxSessions),
					"max_body_frames": p.positive(&s.MaxBodyFrames), "upload_timeout": p.duration(&s.UploadTimeout),
					"header_bytes": p.positive(&s.HeaderBytes),
				})
			},
			"publish_path":   p.str(&s.PublishPath),
			"publish_secret": p.str(&s.PublishSecret),
		})
		p.service(sn, at, &s)
		c.Services = append(c.Services, s)
	}
}

// service checks one service's required and type-specific keys.
func (p *parser) service(n *yaml.Node, at string, s *ServiceSpec) {
	need := func(ok bool, key, msg string) {
		if !ok {
			p.fail(n, at+"."+key, "%s", msg)
		}
	}
	need(strings.HasPrefix(s.Path, "/") && !strings.HasSuffix(s.Path, "/") && !strings.Contains(s.Path, "/.ferry"),
		"path", "must start with / and not end with / or contain /.ferry")
	need(s.Type != "", "type", "required: echo, proxy, broadcast or bench")
	if s.Type != "proxy" {
		need(s.Connect == "" && s.DialTimeout == 0 && s.Coalesce == 0, "connect", "only for type proxy")
	}
	if s.Type != "broadcast" {
		need(s.UDP == "" && s.UDPSources == nil && s.PublishPath == "" && s.PublishSecret == "",
			"udp", "udp, udp_sources and publish_* are only for type broadcast")
	}
	if s.AuthCookie != "" || s.AuthHook != "" || len(s.AuthBearer) > 0 {
		a := AuthConfig{Bearer: s.AuthBearer, Cookie: s.AuthCookie, Hook: s.AuthHook, HookTimeout: s.AuthHookTimeout}
		if err := a.Validate(); err != nil {
			p.fail(n, at+".auth", "%v", err)
		}
	}
	if s.Type == "proxy" {
		_, _, err := net.SplitHostPort(strings.TrimPrefix(s.Connect, "tcp://"))
		need(err == nil, "connect", "required for a proxy: tcp://host:port")
	}
	if s.Type == "broadcast" && s.PublishPath == "" && s.PublishSecret != "" {
		s.PublishPath = "/publish" + s.Path
	}
	if s.PublishPath != "" {
		need(s.PublishSecret != "", "publish_secret", "required to publish over HTTP")
		need(strings.HasPrefix(s.PublishPath, "/"), "publish_path", "must start with /")
	}
}

// check validates the configuration as a whole.
func (p *parser) check(c *Config) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", p.file, fmt.Sprintf(format, args...))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fail("tls: cert and key go together")
	}
	if c.H2C && c.TLSCert != "" {
		return fail("h2c: only without tls (over TLS, HTTP/2 is negotiated by ALPN)")
	}
	for _, f := range []string{c.TLSCert, c.TLSKey} {
		if _, err := os.Stat(f); f != "" && err != nil {
			return fail("tls: %v", err)
		}
	}
	if fi, err := os.Stat(c.Static); c.Static != "" && (err != nil || !fi.IsDir()) {
		return fail("static: %q is not a directory", c.Static)
	}
	if err := c.checkCredentials(); err != nil {
		return fail("%v", err)
	}
	paths := map[string]string{}
	ports := map[string]string{"listen": c.Listen}
	claim := func(what, addr string) error {
		if addr == "" {
			return nil
		}
		if other, ok := ports[portOf(addr)]; ok {
			return fail("port clash: %s %s and %s use the same port", what, addr, other)
		}
		ports[portOf(addr)] = what
		return nil
	}
	ports = map[string]string{portOf(c.Listen): "listen"}
	if err := claim("pprof", c.Pprof); err != nil {
		return err
	}
	if err := claim("metrics", metricsAddr(c.Metrics)); err != nil {
		return err
	}
	for i, s := range c.Services {
		for _, path := range []string{s.Path, s.PublishPath} {
			if other, dup := paths[path]; dup && path != "" {
				return fail("services[%d]: path %s is already used by %s", i, path, other)
			}
			if path != "" {
				paths[path] = fmt.Sprintf("services[%d]", i)
			}
		}
		if err := claim(fmt.Sprintf("services[%d].udp", i), s.UDP); err != nil {
			return err
		}
	}
	return nil
}

// checkCredentials refuses cors_credentials with an origin list, the
// top-level one or a service's own, that allows any host: any site could
// then make requests with its visitors' cookies.
func (c *Config) checkCredentials() error {
	if !c.CORSCredentials {
		return nil
	}
	for i, s := range c.Services {
		key, origins := "origins", c.Origins
		if s.Origins != nil {
			key, origins = fmt.Sprintf("services[%d].origins", i), s.Origins
		}
		if o, wild := anyHostOrigin(origins); wild {
			return fmt.Errorf("cors_credentials: not allowed with %s %q, which allows any host: "+
				"any site could make requests with its visitors' cookies; list the allowed origins", key, o)
		}
	}
	return nil
}

// metricsAddr returns the address of the metrics key when it is one,
// else "".
func metricsAddr(metrics string) string {
	if slices.Contains(metricsModes, metrics) {
		return ""
	}
	return metrics
}

// metricsModes are the values of the metrics key that are not addresses.
var metricsModes = []string{"local", "public", "off"}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// Value setters: each returns a field handler that reports bad values.

func (p *parser) str(dst *string) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			p.fail(v, key, "expected a string")
			return
		}
		*dst = v.Value
	}
}

func (p *parser) strings(dst *[]string) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		if v.Kind != yaml.SequenceNode {
			p.fail(v, key, "expected a list")
			return
		}
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode || e.Value == "" {
				p.fail(e, key, "expected a non-empty string")
				return
			}
			*dst = append(*dst, e.Value)
		}
	}
}

func (p *parser) oneOf(dst *string, allowed ...string) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		p.str(dst)(key, v)
		if p.err == nil && !slices.Contains(allowed, *dst) {
			p.fail(v, key, "%q is not one of %s", *dst, strings.Join(allowed, ", "))
		}
	}
}

func (p *parser) transports(dst *[]string) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		p.strings(dst)(key, v)
		for _, t := range *dst {
			if p.err == nil && !slices.Contains([]string{"websocket", "sse", "longpoll"}, t) {
				p.fail(v, key, "%q is not one of websocket, sse, longpoll", t)
			}
		}
	}
}

func (p *parser) addr(dst *string) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		p.str(dst)(key, v)
		if p.err != nil {
			return
		}
		_, port, err := net.SplitHostPort(*dst)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			p.fail(v, key, "%q is not a host:port address", *dst)
		}
	}
}

// hosts reads a list of Host name patterns: path.Match syntax, no port.
func (p *parser) hosts(dst *[]string) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		p.strings(dst)(key, v)
		for _, h := range *dst {
			_, badPattern := path.Match(h, "")
			_, _, err := net.SplitHostPort(h)
			if p.err == nil && (badPattern != nil || err == nil) {
				p.fail(v, key, "%q is not a host name pattern such as app.example or *.example.org (no port)", h)
			}
		}
	}
}

// metrics reads local, public, off or a host:port address.
func (p *parser) metrics(dst *string) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		p.str(dst)(key, v)
		if p.err != nil || slices.Contains(metricsModes, *dst) {
			return
		}
		if _, _, err := net.SplitHostPort(*dst); err != nil {
			p.fail(v, key, "%q is not local, public, off or a host:port address", *dst)
			return
		}
		p.addr(dst)(key, v)
	}
}

// prefixes reads a non-empty list of CIDR prefixes; a bare address is a
// prefix of one address.
func (p *parser) prefixes(dst *[]netip.Prefix) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		var list []string
		if p.strings(&list)(key, v); p.err == nil && len(list) == 0 {
			p.fail(v, key, "expected a non-empty list of CIDR prefixes")
		}
		for _, e := range list {
			pf, err := netip.ParsePrefix(e)
			if a, aerr := netip.ParseAddr(e); aerr == nil {
				pf, err = a.Prefix(a.BitLen())
			}
			if err != nil && p.err == nil {
				p.fail(v, key, "%q is not a CIDR prefix such as 10.0.0.0/8", e)
			}
			*dst = append(*dst, pf.Masked())
		}
	}
}

func (p *parser) boolean(dst *bool) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		b, err := strconv.ParseBool(v.Value)
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || err != nil {
			p.fail(v, key, "%q is not true or false", v.Value)
			return
		}
		*dst = b
	}
}

func (p *parser) duration(dst *time.Duration) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		d, err := time.ParseDuration(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || d <= 0 {
			p.fail(v, key, "%q is not a positive duration such as 30s", v.Value)
			return
		}
		*dst = d
	}
}

func (p *parser) rate(dst *float64) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		f, err := strconv.ParseFloat(v.Value, 64)
		if v.Kind != yaml.ScalarNode || err != nil || f <= 0 {
			p.fail(v, key, "%q is not a positive number", v.Value)
			return
		}
		*dst = f
	}
}

func (p *parser) positive(dst *int) func(string, *yaml.Node) {
	return func(key string, v *yaml.Node) {
		n, err := strconv.Atoi(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || n <= 0 {
			p.fail(v, key, "%q is not a positive integer", v.Value)
			return
		}
		*dst = n
	}
}
