package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/clientjs"
	"github.com/go-chi/chi/v5"
	"github.com/rs/cors"
)

// Gateway serves a set of services, /client.js and a demo page.
type Gateway struct {
	// Origins is the allow-list for cross-origin pages (see
	// OriginChecker), applied to native and emulated requests alike and
	// to CORS. Empty allows same-host pages only.
	Origins []string
	// Logger receives events; nil discards them.
	Logger *slog.Logger
	// Metrics counts every service's sessions and traffic and is served at
	// GET /metrics. NewGateway creates it; set it before Handle to share
	// another.
	Metrics *Metrics

	router   chi.Router
	services []*Service
	srv      *http.Server
}

// NewGateway returns a gateway with no services.
func NewGateway(origins []string, logger *slog.Logger) *Gateway {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{Origins: origins, Logger: logger, Metrics: NewMetrics(), router: chi.NewRouter()}
	g.router.Handle("/client.js", clientjs.Handler())
	g.router.Get("/", servePage)
	g.router.Get("/metrics", func(w http.ResponseWriter, r *http.Request) { g.Metrics.ServeHTTP(w, r) })
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
	cfg.CheckOrigin = OriginChecker(origins)
	cfg.Logger = g.Logger.With("service", path)
	cfg.Name = path
	if cfg.Metrics == nil {
		cfg.Metrics = g.Metrics
	}
	svc := NewService(cfg, accept)
	c := cors.New(cors.Options{
		AllowOriginFunc: func(o string) bool { return OriginAllowed(origins, o) },
		AllowedMethods:  []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:  []string{"Content-Type", "Last-Event-ID", "Authorization"},
		MaxAge:          600,
	})
	g.router.Mount(path, c.Handler(svc))
	g.services = append(g.services, svc)
	return svc
}

// ServeHTTP serves the gateway's routes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.router.ServeHTTP(w, r) }

// Serve accepts connections on ln until ctx ends, then shuts down
// gracefully: every session is closed with 1001 and given up to grace to
// finish.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hl := NewHandBackListener(ln)
	g.srv = &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(g.Logger.Handler(), slog.LevelDebug),
		ConnContext:       hl.ConnContext,
	}
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
