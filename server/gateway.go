package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/clientjs"
	"github.com/go-chi/chi/v5"
	"github.com/rs/cors"
)

// Gateway serves a set of services, /client.js, a demo page, /metrics
// and /healthz. Set its fields before serving.
type Gateway struct {
	// Origins is the allow-list for cross-origin pages (see
	// OriginChecker), applied to native and emulated requests alike and
	// to CORS. Empty allows same-host pages only, on an allowed host (see
	// Hosts).
	Origins []string
	// Hosts lists the host names, besides IP literals and localhost, that
	// a request's Host header may carry (see HostAllowed: path.Match
	// patterns, port ignored, "*" for any). A request for any other host
	// gets 421 Misdirected Request on every route but /healthz, and no
	// page is same-origin unless its host is allowed: this is what stops
	// DNS rebinding. Nil allows IP literals and localhost only, so a
	// gateway reached under a DNS name must list it.
	Hosts []string
	// Logger receives events; nil discards them.
	Logger *slog.Logger
	// Metrics counts every service's sessions and traffic and is served at
	// GET /metrics. NewGateway creates it with a registry of its own
	// (NewMetrics); set it before Handle to share another, or to register
	// with your own prometheus.Registerer (NewMetricsWith).
	Metrics *Metrics
	// MetricsAccess says whom GET /metrics answers; the zero value is
	// MetricsLocal.
	MetricsAccess MetricsAccess
	// MaxHeaderBytes caps the request line and headers that Serve reads
	// (net/http answers 431 beyond); zero means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// IdleTimeout is how long Serve keeps a keep-alive connection that
	// waits for its next request; zero means DefaultIdleTimeout. The wait
	// for a connection's first request is bounded by the header timeout,
	// 10 s or IdleTimeout if shorter; that includes a connection given
	// back after a long-poll, which net/http takes as a new connection.
	IdleTimeout time.Duration
	// CORSCredentials lets cross-origin pages from an allowed origin
	// (Origins, or a service's own) send credentials such as cookies with
	// their emulation requests: CORS answers then carry
	// Access-Control-Allow-Credentials: true, which a page needs for
	// cookie auth across origins (fetch with credentials: "include",
	// XMLHttpRequest.withCredentials, EventSource withCredentials). False,
	// the default, leaves the header out, so browsers keep such pages'
	// cookies out of reach. Handle panics if it is set and the origin list
	// allows any host ("*", "https://*"): any site could then act with the
	// user's cookies.
	CORSCredentials bool
	// UnencryptedHTTP2 makes Serve answer HTTP/2 with prior knowledge
	// (h2c, RFC 9113 §3.3) on connections without TLS, besides HTTP/1.1:
	// for a TLS-terminating proxy that speaks HTTP/2 to the gateway.
	// Browsers never use it. False, the default, serves HTTP/1.1 only on
	// such connections. Over TLS, HTTP/2 is negotiated by ALPN instead
	// (see Serve).
	UnencryptedHTTP2 bool

	router   *chi.Mux
	services []*Service
	srv      *http.Server
}

// MetricsAccess says whom a gateway's GET /metrics answers. Others get
// the answer of an unknown path (404), which does not reveal it exists.
type MetricsAccess int

const (
	// MetricsLocal answers peers on a loopback address, and not requests
	// that came through a proxy (with X-Forwarded-For, Forwarded or
	// X-Real-IP). A proxy on the same host that adds none of these makes
	// every request it forwards look local.
	MetricsLocal MetricsAccess = iota
	// MetricsPublic answers anyone.
	MetricsPublic
	// MetricsOff answers no one (serve Metrics elsewhere).
	MetricsOff
)

// Defaults of the Gateway fields that tune Serve.
const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultIdleTimeout    = 120 * time.Second
	headerTimeout         = 10 * time.Second // longest wait for a request's headers
)

// NewGateway returns a gateway with no services.
func NewGateway(origins []string, logger *slog.Logger) *Gateway {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{Origins: origins, Logger: logger, Metrics: NewMetrics(), router: chi.NewRouter()}
	g.router.Handle("/client.js", clientjs.Handler())
	g.router.Get("/", servePage)
	g.router.HandleFunc("/metrics", g.serveMetrics)
	g.router.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return g
}

// Handle mounts a service at path, with the gateway's origin policy and
// CORS for emulation requests, and returns it.
func (g *Gateway) Handle(path string, cfg ServiceConfig, accept func(bytesocket.Socket)) *Service {
	origins := g.Origins
	if cfg.Origins != nil {
		origins = cfg.Origins
	}
	cfg.CheckOrigin = func(r *http.Request) bool {
		return sameOrigin(g.Hosts, r) || OriginAllowed(origins, r.Header.Get("Origin"))
	}
	cfg.Logger = g.Logger.With("service", path)
	cfg.Name = path
	if cfg.Metrics == nil {
		cfg.Metrics = g.Metrics
	}
	if o, wild := anyHostOrigin(origins); wild && g.CORSCredentials {
		panic(fmt.Sprintf("server: CORSCredentials with origin %q, which allows any host, for %s", o, path))
	}
	svc := NewService(cfg, accept)
	c := cors.New(cors.Options{
		AllowOriginFunc:  func(o string) bool { return OriginAllowed(origins, o) },
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Content-Type", "Last-Event-ID", "Authorization"},
		AllowCredentials: g.CORSCredentials,
		MaxAge:           600,
	})
	g.router.Mount(path, c.Handler(svc))
	g.services = append(g.services, svc)
	return svc
}

// anyHostOrigin returns the first pattern of an origin allow-list that
// allows every host: "*", or a pattern whose host is only wildcards, such
// as "https://*" or "*://*:8080".
func anyHostOrigin(origins []string) (string, bool) {
	for _, o := range origins {
		_, hostport, hasScheme := strings.Cut(o, "://")
		host := hostport
		if h, _, err := net.SplitHostPort(hostport); err == nil {
			host = h
		}
		if o == "*" || hasScheme && strings.Trim(host, "*?") == "" {
			return o, true
		}
	}
	return "", false
}

// ServeHTTP serves the gateway's routes to requests whose Host is
// allowed (see Hosts); others get 421, except GET /healthz, which load
// balancers probe under any name.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/healthz" && !HostAllowed(g.Hosts, r.Host) {
		writeStatus(w, http.StatusMisdirectedRequest, errHost.Error())
		return
	}
	if len(r.TransferEncoding) > 0 {
		closeAfterResponse(w, r)
	}
	g.router.ServeHTTP(w, r)
}

// closeAfterResponse makes r's connection close once it is answered. It
// is applied to every request with a Transfer-Encoding because RFC 9112
// §6.1 requires it of one that also carries Content-Length (a request
// smuggling attempt), and net/http reads such a request as chunked and
// deletes its Content-Length before any handler can see it. No Ferry
// client sends chunked requests. r.Close makes carriers that take the
// connection off net/http close it too.
func closeAfterResponse(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	r.Close = true
}

// serveMetrics answers GET /metrics to whom MetricsAccess allows, and
// others as if there were no such route.
func (g *Gateway) serveMetrics(w http.ResponseWriter, r *http.Request) {
	switch {
	case g.MetricsAccess == MetricsOff, g.MetricsAccess == MetricsLocal && !localRequest(r):
		g.router.NotFoundHandler().ServeHTTP(w, r)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, http.StatusMethodNotAllowed, "ferry: method not allowed")
	default:
		g.Metrics.ServeHTTP(w, r)
	}
}

// localRequest reports whether r comes from a loopback address and not
// through a proxy that says so.
func localRequest(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// Serve accepts connections on ln until ctx ends, then shuts down
// gracefully: every session is closed with 1001 and given up to grace to
// finish. It applies MaxHeaderBytes and IdleTimeout, and gives long-poll
// connections back to net/http through a HandBackListener.
//
// Serve speaks HTTP/1.1, and HTTP/2 where the client negotiates it: over
// TLS by ALPN, when ln's tls.Config offers "h2" (NextProtos "h2",
// "http/1.1", as the ferry command's does), and without TLS with prior
// knowledge if UnencryptedHTTP2 is set. Over HTTP/2 the event streams,
// long-polls and POSTs of many sessions are streams of one connection, so
// a browser is not held to its six HTTP/1.1 connections per host; nothing
// is taken off net/http then. WebSockets keep HTTP/1.1 connections of
// their own: Go's HTTP/2 server does not offer RFC 8441's extended
// CONNECT (unless GODEBUG=http2xconnect=1, which the gateway does not
// support), so browsers open them over HTTP/1.1.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hl := NewHandBackListener(ln)
	g.srv = g.httpServer(g)
	g.srv.ConnContext = hl.ConnContext
	g.srv.Protocols = g.protocols()
	errc := make(chan error, 1)
	go func() { errc <- g.srv.Serve(hl) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, s := range g.services {
		s.Shutdown(sctx)
	}
	// Sessions are closed; what is left are plain requests and connections
	// that never sent one (net/http counts those as busy for 5 s), so the
	// HTTP drain gets at most a second of what remains of the grace period.
	hctx, hcancel := context.WithTimeout(sctx, time.Second)
	defer hcancel()
	err := g.srv.Shutdown(hctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = g.srv.Close()
	}
	<-errc
	return err
}

// protocols returns what Serve speaks: HTTP/1.1, HTTP/2 over TLS, and
// h2c if UnencryptedHTTP2 is set.
func (g *Gateway) protocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(g.UnencryptedHTTP2)
	return p
}

// httpServer returns an http.Server for h with the gateway's header
// limit and timeouts; Run uses it for the side listeners too.
func (g *Gateway) httpServer(h http.Handler) *http.Server {
	idle := g.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	maxHeader := g.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(headerTimeout, idle),
		IdleTimeout:       idle,
		MaxHeaderBytes:    maxHeader,
		ErrorLog:          slog.NewLogLogger(g.Logger.Handler(), slog.LevelDebug),
	}
}
