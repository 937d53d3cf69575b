package emulation

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

// Session is the server side of an emulated WebSocket: a Channel with an
// id, the request that opened it, and an expiry timer that runs while no
// carrier or request holds it. It implements bytesocket.Socket.
type Session struct {
	*Channel
	id         string
	protocol   string
	header     http.Header
	remote     net.Addr
	transports []string
	transport  atomic.Value // string
	opened     time.Time    // when newSession made it, for Counters.OnAttach

	mu       sync.Mutex // guards holders, expiry and attached
	holders  int
	expiry   *time.Timer
	attached bool // a carrier has attached at least once
}

var _ bytesocket.Socket = (*Session)(nil)

// newSession creates a session for the request r. Its expiry timer runs
// until the first carrier or request holds it.
func newSession(cfg Config, r *http.Request, protocol string, transports []string) *Session {
	s := &Session{
		Channel:    NewChannel(cfg),
		id:         newID(),
		protocol:   protocol,
		header:     KeepHeader(r.Header, cfg.HeaderBytes),
		remote:     remoteAddr(r),
		transports: transports,
		opened:     time.Now(),
	}
	s.transport.Store("sse") // until a carrier attaches; see ServeOpen
	s.expiry = time.AfterFunc(s.cfg.ResumeTimeout, s.expire)
	return s
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func remoteAddr(r *http.Request) net.Addr {
	if a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		return a
	}
	return stringAddr(r.RemoteAddr)
}

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// ID returns the session id. It is a credential: log ShortID instead.
func (s *Session) ID() string { return s.id }

// ShortID returns the first 6 characters of the id, for logs.
func (s *Session) ShortID() string { return s.id[:6] }

// Subprotocol returns the negotiated subprotocol.
func (s *Session) Subprotocol() string { return s.protocol }

// Transport returns the carrier most recently attached.
func (s *Session) Transport() string { return s.transport.Load().(string) }

// RemoteAddr returns the address of the client that opened the session.
func (s *Session) RemoteAddr() net.Addr { return s.remote }

// Header returns the headers of the opening request, up to
// Config.HeaderBytes (see KeepHeader).
func (s *Session) Header() http.Header { return s.header }

// Hold marks the session as in use by a carrier or request, stopping its
// expiry timer. Every Hold must be matched by Release.
func (s *Session) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holders++
	s.expiry.Stop()
}

// Release undoes Hold; when nothing holds the session, the expiry timer
// starts again.
func (s *Session) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holders--
	if s.holders == 0 {
		s.expiry.Reset(s.cfg.ResumeTimeout)
	}
}

func (s *Session) expire() {
	s.Fail(bytesocket.CloseError{Code: bytesocket.StatusAbnormalClosure, Reason: "ferry: session expired"})
}

// AttachLeg attaches a carrier (see Channel.Attach), records it as the
// session's transport, and fails the session with 4010 when the resume
// falls outside the retention window.
func (s *Session) AttachLeg(last uint64, transport string, wantAcks bool) (*Leg, error) {
	prev := s.Transport()
	l, err := s.Attach(last, transport, wantAcks)
	if err == ErrOutsideWindow {
		s.Fail(bytesocket.CloseError{Code: bytesocket.StatusResumeOutsideWindow, Reason: "resume outside retention window"})
	}
	if err == nil {
		s.transport.Store(transport)
		s.mu.Lock()
		first := !s.attached
		s.attached = true
		s.mu.Unlock()
		s.counters.attach(s, prev, transport, first, last)
	}
	return l, err
}

// Info returns the session's parameters with the current upstream ack: the
// open response and the body of the "o" frame (see wire.AppendOpen).
func (s *Session) Info() wire.OpenInfo {
	return wire.OpenInfo{
		V: 1, Session: s.id, Protocol: s.protocol, Transports: s.transports,
		HeartbeatMs: s.cfg.Heartbeat.Milliseconds(), ResumeMs: s.cfg.ResumeTimeout.Milliseconds(),
		MaxMessage: s.cfg.MaxMessageBytes, MaxBody: s.cfg.MaxBodyBytes, MaxFrames: s.cfg.MaxBodyFrames,
		WindowBytes: s.cfg.WindowBytes, WindowMsgs: s.cfg.WindowMessages, InboundBytes: s.cfg.InboundBytes, Ack: s.Received(),
	}
}

// Config returns the session's limits.
func (s *Session) Config() Config { return s.cfg }

// KeepHeader returns the copy of an opening request's headers that a
// socket keeps for Header: at most max bytes, each value counting its
// name, its bytes and HeaderFieldOverhead, fields taken in name order and
// a value that does not fit dropped whole. The copy shares no memory with
// h, so the request's header block (up to the server's header limit) is
// not retained for the session's life.
func KeepHeader(h http.Header, max int) http.Header {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	kept := http.Header{}
	for _, k := range keys {
		for _, v := range h[k] {
			cost := len(k) + len(v) + HeaderFieldOverhead
			if cost > max {
				continue
			}
			max -= cost
			kept[strings.Clone(k)] = append(kept[k], strings.Clone(v))
		}
	}
	return kept
}

// HeaderFieldOverhead is what KeepHeader counts for each header value
// besides its name and value bytes: the map entry, slice and string
// headers that hold it.
const HeaderFieldOverhead = 128
