package emulation

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ferrygw/ferry/bytesocket"
)

// Server creates emulated sessions for one service and serves their HTTP
// endpoints. Set the fields before the first request; they must not change
// afterwards.
type Server struct {
	// Config holds limits and timers; zero fields take their defaults.
	Config Config
	// Store finds sessions by id. Nil means a Registry created on first use
	// with Config.MaxSessions.
	Store Store
	// Protocols lists the subprotocols the service supports. A client that
	// offers protocols, none of them supported, is refused.
	Protocols []string
	// Transports lists the carriers offered in the handshake, in order.
	// Nil means websocket, sse, longpoll.
	Transports []string
	// Accept is called in its own goroutine for every new session; the
	// session is closed with 1000 when it returns, if still open.
	Accept func(*Session)
	// Logger receives session events; nil discards them.
	Logger *slog.Logger
	// Counters, if not nil, counts the traffic, resumes and closes of
	// every session.
	Counters *Counters
	// OnOpen, if not nil, is called by NewSession with the opening request
	// once a session is registered, before its handler starts. The
	// function it returns, if not nil, is called once when the session
	// finishes. A server uses it to tie accounting done for the request
	// (session limits) to the session's lifetime.
	OnOpen func(r *http.Request, s *Session) (finished func())

	shutdown chan struct{}
}

// Init applies defaults. It is called by the serving methods and may be
// called early to read the effective configuration.
func (sv *Server) Init() {
	if sv.shutdown != nil {
		return
	}
	sv.Config = sv.Config.WithDefaults()
	if sv.Store == nil {
		sv.Store = NewRegistry(sv.Config.MaxSessions)
	}
	if sv.Transports == nil {
		sv.Transports = Transports
	}
	if sv.Logger == nil {
		sv.Logger = slog.New(slog.DiscardHandler)
	}
	sv.shutdown = make(chan struct{})
}

// NewSession creates, registers and starts a session for r with the
// already-selected protocol.
func (sv *Server) NewSession(r *http.Request, protocol string) (*Session, error) {
	sv.Init()
	select {
	case <-sv.shutdown:
		return nil, ErrShuttingDown
	default:
	}
	s := newSession(sv.Config, r, protocol, sv.Transports)
	if strings.HasSuffix(r.URL.Path, "/ws") {
		s.transport.Store("websocket")
	}
	s.Channel.mu.Lock()
	s.counters = sv.Counters
	s.Channel.mu.Unlock()
	if err := sv.Store.Add(s); err != nil {
		s.expiry.Stop()
		return nil, err
	}
	var finished func()
	if sv.OnOpen != nil {
		finished = sv.OnOpen(r, s)
	}
	onFinish := func() {
		s.expiry.Stop()
		sv.Store.Remove(s.id)
		if finished != nil {
			finished()
		}
		sv.Logger.Debug("session finished", "session", s.ShortID())
	}
	s.Channel.mu.Lock()
	s.onFinish = onFinish
	early := s.finished // expired already: finish ran without the hook
	s.Channel.mu.Unlock()
	if early {
		onFinish()
	}
	sv.Logger.Debug("session opened", "session", s.ShortID(), "remote", r.RemoteAddr)
	if sv.Accept != nil {
		go sv.run(s)
	}
	return s, nil
}

func (sv *Server) run(s *Session) {
	defer func() {
		_ = s.Close(bytesocket.StatusNormalClosure, "")
	}()
	sv.Accept(s)
}

// Lookup returns the live session with the id.
func (sv *Server) Lookup(id string) (*Session, error) {
	sv.Init()
	s, ok := sv.Store.Get(id)
	if !ok {
		return nil, ErrSessionNotFound
	}
	return s, nil
}

// Shutdown refuses new sessions, closes every live session with 1001, and
// waits until they finish or ctx ends; sessions left then are failed.
func (sv *Server) Shutdown(ctx context.Context) {
	sv.Init()
	select {
	case <-sv.shutdown:
	default:
		close(sv.shutdown)
	}
	var all []*Session
	sv.Store.Range(func(s *Session) bool {
		_ = s.Close(bytesocket.StatusGoingAway, "server shutting down")
		all = append(all, s)
		return true
	})
	for _, s := range all {
		select {
		case <-s.Done():
		case <-ctx.Done():
			s.Fail(bytesocket.CloseError{Code: bytesocket.StatusGoingAway, Reason: "server shutting down"})
		}
	}
}

// WriteError answers an error from this package with its status and a
// one-line reason.
func WriteError(w http.ResponseWriter, err error) {
	status, body := ErrorResponse(err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ErrorResponse is the status and body WriteError answers err with, for a
// carrier that writes its response itself.
func ErrorResponse(err error) (int, []byte) {
	status := Status(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		status, err = http.StatusRequestEntityTooLarge, ErrBodyTooLarge
	}
	return status, []byte(err.Error() + "\n")
}
