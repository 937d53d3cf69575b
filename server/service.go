package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/internal/wsnative"
	"github.com/ferrygw/ferry/longpoll"
	"github.com/ferrygw/ferry/sse"
	"github.com/ferrygw/ferry/wire"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"
)

// ServiceConfig configures one service. The zero value serves every
// carrier with default limits and no subprotocols.
type ServiceConfig struct {
	// Protocols lists the supported subprotocols, in no particular order;
	// the client's first offered protocol that is listed is selected. "*"
	// selects the client's first offered protocol, whatever it is.
	Protocols []string
	// Transports lists the carriers offered to Ferry's client, in order.
	// Nil means websocket, sse, longpoll.
	Transports []string
	// Emulation holds session limits and timers; zero fields take defaults.
	Emulation emulation.Config
	// Origins, if not nil, replaces the gateway's origin allow-list for
	// this service (Gateway.Handle applies it to origin checks and CORS).
	Origins []string
	// CheckOrigin decides whether a request's Origin is allowed; nil
	// allows same-host origins whose host is allowed by Hosts
	// (OriginChecker(Hosts, nil)). Requests without Origin always pass.
	CheckOrigin func(r *http.Request) bool
	// Hosts lists the host names, besides IP literals and localhost,
	// whose same-host origins the default CheckOrigin allows (see
	// HostAllowed); nil allows none, so a page under a DNS name (a DNS
	// rebinding attack included) is not same-origin unless listed.
	Hosts []string
	// Logger receives events; nil discards them.
	Logger *slog.Logger
	// Name labels the service in metrics and auth hook requests.
	// Gateway.Handle sets it to the service path; the default is "".
	Name string
	// Auth protects the requests that open a session; nil (the default)
	// leaves the service open. See AuthConfig.
	Auth *AuthConfig
	// Limits bounds sessions per client address and their handshake
	// rate; the zero value (the default) sets no per-address limits. The
	// service-wide cap is Emulation.MaxSessions and counts plain
	// WebSockets too.
	Limits Limits
	// Metrics receives the service's counters; nil means a Metrics of its
	// own (see Service.Metrics). Gateway.Handle sets the gateway's.
	Metrics *Metrics
}

// Service serves one WebSocket service on every carrier. Mount it at the
// service path with the path prefix stripped (chi's Mount does that, or
// http.StripPrefix).
type Service struct {
	cfg      ServiceConfig
	accept   func(bytesocket.Socket)
	emu      *emulation.Server
	upgrader websocket.Upgrader
	router   chi.Router

	auth    *authorizer // nil: open
	limits  *limiter
	metrics *serviceMetrics

	mu      sync.Mutex // guards natives
	natives map[*wsnative.Socket]struct{}
	wg      sync.WaitGroup
}

// NewService returns a service that calls accept, in its own goroutine,
// for every new socket; the socket is closed with 1000 when accept returns.
func NewService(cfg ServiceConfig, accept func(bytesocket.Socket)) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CheckOrigin == nil {
		cfg.CheckOrigin = OriginChecker(cfg.Hosts, nil)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	h := &Service{cfg: cfg, accept: accept, natives: make(map[*wsnative.Socket]struct{})}
	h.metrics = cfg.Metrics.service(cfg.Name)
	h.emu = &emulation.Server{
		Config: cfg.Emulation, Protocols: cfg.Protocols, Transports: cfg.Transports,
		Logger: cfg.Logger, Accept: func(s *emulation.Session) { accept(s) },
		Counters: &h.metrics.counters,
		OnOpen:   h.opened,
	}
	h.emu.Init()
	h.limits = newLimiter(h.emu.Config.MaxSessions, cfg.Limits)
	if cfg.Auth != nil {
		h.auth = newAuthorizer(cfg.Name, cfg.Auth)
	}
	h.metrics.mu.Lock()
	h.metrics.sessions = h.countSessions
	h.metrics.mu.Unlock()
	h.upgrader = websocket.Upgrader{
		ReadBufferSize: 1024, WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true }, // checked by the router
		Error:           upgradeError,
	}
	h.router = h.routes()
	return h
}

func (h *Service) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(refuseGETBody, h.originMiddleware)
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusNotFound, errNotFound.Error())
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowFor(r.URL.Path))
		writeStatus(w, http.StatusMethodNotAllowed, "ferry: method not allowed")
	})
	opening := []func(http.Handler) http.Handler{h.limitMiddleware}
	if h.auth != nil {
		opening = append(opening, h.authMiddleware)
	}
	ws := r.With(h.offered(emulation.TransportWebSocket))
	ws.With(opening...).Get("/", h.serveNative)
	ws.With(opening...).Get("/.ferry/ws", func(w http.ResponseWriter, r *http.Request) { h.serveFerryWS(w, r, "") })
	ws.Get("/.ferry/{sid}/ws", func(w http.ResponseWriter, r *http.Request) {
		h.serveFerryWS(w, r, chi.URLParam(r, "sid"))
	})
	r.With(opening...).Post("/.ferry/open", h.emu.ServeOpen)
	r.Post("/.ferry/{sid}/send", func(w http.ResponseWriter, r *http.Request) {
		h.emu.ServeSend(w, r, chi.URLParam(r, "sid"))
	})
	r.With(h.offered(emulation.TransportSSE)).Get("/.ferry/{sid}/sse", func(w http.ResponseWriter, r *http.Request) {
		h.emu.ServeDownstream(w, r, chi.URLParam(r, "sid"), sse.Downstream{})
	})
	r.With(h.offered(emulation.TransportLongPoll)).Get("/.ferry/{sid}/poll", func(w http.ResponseWriter, r *http.Request) {
		h.emu.ServeDownstream(w, r, chi.URLParam(r, "sid"), longpoll.Downstream{})
	})
	return r
}

// ServeHTTP routes a request relative to the service path.
func (h *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// Sessions returns the number of live emulated or resumable sessions.
func (h *Service) Sessions() int { return h.emu.Store.Len() }

// Metrics returns the Metrics the service counts into (its own, or the
// one in its ServiceConfig).
func (h *Service) Metrics() *Metrics { return h.cfg.Metrics }

// countSessions reports live sessions by transport, for ferry_sessions.
func (h *Service) countSessions(add func(transport string, n int)) {
	h.emu.Store.Range(func(s *emulation.Session) bool {
		add(s.Transport(), 1)
		return true
	})
	h.mu.Lock()
	n := len(h.natives)
	h.mu.Unlock()
	add("plain", n)
}

var (
	errGETBody    = errors.New("ferry: request body not allowed on GET")
	errNotUpgrade = errors.New("ferry: expected a WebSocket upgrade")
	errNotFound   = errors.New("ferry: not found")
	errOrigin     = errors.New("ferry: origin not allowed")
)

func writeStatus(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// allowFor returns the Allow header for a service path: the upstream and
// open endpoints take POST, everything else GET.
func allowFor(path string) string {
	if strings.HasSuffix(path, "/send") || strings.HasSuffix(path, "/open") {
		return "POST, OPTIONS"
	}
	return "GET, OPTIONS"
}

// upgradeError answers a failed WebSocket handshake with the one-line
// "ferry: ..." body of every other error.
func upgradeError(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	writeStatus(w, status, "ferry: bad WebSocket handshake: "+strings.TrimPrefix(reason.Error(), "websocket: "))
}

// offered refuses, with 403, the requests of a carrier the service does
// not offer (ServiceConfig.Transports), before any limit or auth check.
func (h *Service) offered(transport string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if h.emu.Offers(transport) {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			emulation.WriteError(w, fmt.Errorf("%w: %s", emulation.ErrTransportOff, transport))
		})
	}
}

// refuseGETBody answers 400 to a GET or HEAD that carries a body and
// closes its connection. The GET carriers take their connection off
// net/http (a held long-poll, an event stream, a WebSocket upgrade), so a
// body left unread there would be read as the connection's next request:
// one request, one response.
func refuseGETBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && hasBody(r) {
			if r.ProtoMajor == 1 { // HTTP/2 frames bodies: nothing to smuggle, no connection to end
				w.Header().Set("Connection", "close")
			}
			writeStatus(w, http.StatusBadRequest, errGETBody.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hasBody reports whether r announced a body (Content-Length or
// Transfer-Encoding).
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 || len(r.TransferEncoding) > 0
}

func (h *Service) originMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" && !h.cfg.CheckOrigin(r) {
			h.refuse(w, &refusal{status: http.StatusForbidden, reason: errOrigin.Error()})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveNative answers a plain RFC 6455 upgrade at the service path.
func (h *Service) serveNative(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		writeStatus(w, http.StatusUpgradeRequired, errNotUpgrade.Error())
		return
	}
	offered, err := wire.ParseProtocolHeader(r.Header.Values("Sec-Websocket-Protocol"))
	if err != nil {
		emulation.WriteError(w, err)
		return
	}
	proto, err := wire.SelectProtocol(offered, h.cfg.Protocols)
	if err != nil {
		emulation.WriteError(w, err)
		return
	}
	var hdr http.Header
	if proto != "" {
		hdr = http.Header{"Sec-Websocket-Protocol": {proto}}
	}
	s, err := wsnative.Accept(&h.upgrader, w, r, hdr, h.emu.Config.MaxMessageBytes, h.emu.Config.Heartbeat)
	if err != nil {
		return
	}
	h.metrics.handshake("plain", time.Since(start))
	cs := h.metrics.countSocket(s)
	release := claimSlot(r)
	h.track(s, true)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer release()
		defer cs.finished()
		defer h.track(s, false)
		defer cs.Close(bytesocket.StatusNormalClosure, "")
		h.accept(cs)
	}()
}

// opened ties a new emulated session to its client's session slot and,
// when it finishes, records its life (emulation.Server.OnOpen).
func (h *Service) opened(r *http.Request, s *emulation.Session) func() {
	release := claimSlot(r)
	start := time.Now()
	return func() {
		release()
		h.metrics.finished(s.Transport(), time.Since(start))
	}
}

func (h *Service) track(s *wsnative.Socket, add bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if add {
		h.natives[s] = struct{}{}
	} else {
		delete(h.natives, s)
	}
}

// Shutdown closes every socket with 1001 and waits for emulated sessions
// to finish their close handshake until ctx ends.
func (h *Service) Shutdown(ctx context.Context) {
	h.mu.Lock()
	for s := range h.natives {
		_ = s.Close(bytesocket.StatusGoingAway, "server shutting down")
	}
	h.mu.Unlock()
	h.emu.Shutdown(ctx)
}
