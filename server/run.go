package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/ferrygw/ferry/emulation"
)

// Run serves cfg until ctx ends, then shuts down gracefully, logging to
// logw.
func Run(ctx context.Context, cfg *Config, logw io.Writer) error {
	logger := NewLogger(cfg, logw)
	g, err := Build(ctx, cfg, logger)
	if err != nil {
		return err
	}
	limit := maxConnections(cfg)
	ln, err := listen(cfg, limit)
	if err != nil {
		return err
	}
	if err := serveSide(ctx, g, cfg); err != nil {
		ln.Close()
		return err
	}
	scheme, http2 := "http", "off"
	if cfg.TLSCert != "" {
		scheme, http2 = "https", "h2"
	} else if cfg.H2C {
		http2 = "h2c"
	}
	logger.Info("ferry serving", "addr", scheme+"://"+ln.Addr().String(), "services", len(cfg.Services),
		"max_connections", limit, "http2", http2)
	return g.Serve(ctx, ln, cfg.Grace)
}

// NewLogger returns the slog logger cfg asks for.
func NewLogger(cfg *Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Build creates the gateway and mounts every configured service. Services
// that run in the background (a broadcast's UDP feed) stop with ctx.
func Build(ctx context.Context, cfg *Config, logger *slog.Logger) (*Gateway, error) {
	g := NewGateway(cfg.Origins, logger)
	g.Hosts = hosts(cfg)
	g.MaxHeaderBytes, g.IdleTimeout = cfg.MaxHeaderBytes, cfg.IdleTimeout
	g.CORSCredentials = cfg.CORSCredentials
	g.UnencryptedHTTP2 = cfg.H2C
	switch cfg.Metrics {
	case "public":
		g.MetricsAccess = MetricsPublic
	case "local", "":
		g.MetricsAccess = MetricsLocal
	default: // "off", or served by serveSide on an address of its own
		g.MetricsAccess = MetricsOff
	}
	if cfg.Static != "" {
		g.ServeStatic(cfg.Static)
	}
	for _, s := range cfg.Services {
		if err := mount(ctx, g, s); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// hosts returns the Host names allowed besides IP literals and
// localhost: the listen address's host if it is a name, and cfg.Hosts.
func hosts(cfg *Config) []string {
	h, _, _ := net.SplitHostPort(cfg.Listen)
	if HostAllowed(nil, h) || h == "" {
		return cfg.Hosts
	}
	return append([]string{h}, cfg.Hosts...)
}

// serviceConfig maps the common keys of a service spec.
func serviceConfig(s ServiceSpec) ServiceConfig {
	var auth *AuthConfig
	if len(s.AuthBearer) > 0 || s.AuthHook != "" {
		auth = &AuthConfig{Bearer: s.AuthBearer, Cookie: s.AuthCookie, Hook: s.AuthHook, HookTimeout: s.AuthHookTimeout}
	}
	return ServiceConfig{
		Protocols: s.Protocols, Transports: s.Transports, Auth: auth, Origins: s.Origins,
		Limits: Limits{SessionsPerIP: s.SessionsPerIP, HandshakeRate: s.HandshakeRate, HandshakeBurst: s.HandshakeBurst},
		Emulation: emulation.Config{
			Heartbeat: s.Heartbeat, ResumeTimeout: s.ResumeTimeout,
			MaxMessageBytes: s.MaxMessageBytes, WindowBytes: s.WindowBytes,
			MaxSessions: s.MaxSessions, MaxBodyFrames: s.MaxBodyFrames, UploadTimeout: s.UploadTimeout,
			HeaderBytes: s.HeaderBytes,
		},
	}
}

// mount creates the service s and mounts it on g.
func mount(ctx context.Context, g *Gateway, s ServiceSpec) error {
	logger := g.Logger.With("service", s.Path)
	switch s.Type {
	case "echo":
		g.Handle(s.Path, serviceConfig(s), Echo)
	case "bench":
		g.Handle(s.Path, serviceConfig(s), Bench)
	case "proxy":
		pc := ProxyConfig{Connect: s.Connect, DialTimeout: s.DialTimeout, CoalesceBytes: s.Coalesce, Logger: logger,
			OnDialError: func() { g.Metrics.BackendDialError(s.Path) }}
		if _, err := pc.BackendAddr(); err != nil {
			return err
		}
		g.Handle(s.Path, serviceConfig(s), Proxy(pc))
	case "broadcast":
		b, err := NewBroadcast(BroadcastConfig{
			UDP: s.UDP, UDPSources: s.UDPSources, PublishSecret: s.PublishSecret, MaxMessageBytes: s.MaxMessageBytes, Logger: logger,
			QueueTime: g.Metrics.BroadcastQueue(s.Path),
		})
		if err != nil {
			return err
		}
		if err := b.Start(ctx); err != nil {
			return err
		}
		context.AfterFunc(ctx, func() { _ = b.Close() })
		g.Handle(s.Path, serviceConfig(s), b.Accept)
		if s.PublishPath != "" {
			g.router.Handle(s.PublishPath, b.PublishHandler())
		}
	default:
		return errors.New("server: unknown service type " + s.Type)
	}
	return nil
}

// listen opens cfg's listener, accepting at most limit TCP connections
// at once (counted beneath TLS, so an HTTP/2 connection counts once
// however many sessions it carries; 0: no limit).
func listen(cfg *Config, limit int) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	if limit > 0 {
		ln = newLimitListener(ln, limit)
	}
	if cfg.TLSCert == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// HTTP/2 for the emulated carriers, many sessions on one connection;
	// HTTP/1.1 for WebSocket upgrades (browsers ask for it alone) and
	// clients without HTTP/2.
	return tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"},
		MinVersion: tls.VersionTLS12,
	}), nil
}

// serveSide starts the listeners that cfg puts on addresses of their
// own: pprof, and /metrics when its key is an address. They answer
// anyone who reaches them, until ctx ends.
func serveSide(ctx context.Context, g *Gateway, cfg *Config) error {
	if addr := metricsAddr(cfg.Metrics); addr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", g.Metrics)
		if err := serveOn(ctx, g, addr, mux, "metrics", "/metrics"); err != nil {
			return err
		}
	}
	if cfg.Pprof == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveOn(ctx, g, cfg.Pprof, mux, "pprof", "/debug/pprof/")
}

// serveOn serves h on addr, with the gateway's header limit and
// timeouts, until ctx ends.
func serveOn(ctx context.Context, g *Gateway, addr string, h http.Handler, name, path string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := g.httpServer(h)
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { srv.Close() })
	g.Logger.Info(name+" serving", "addr", "http://"+ln.Addr().String()+path)
	return nil
}
