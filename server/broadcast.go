package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
)

// BroadcastConfig configures a Broadcast. The zero value has no UDP feed
// and no HTTP publishing.
type BroadcastConfig struct {
	// UDP is the address to receive the datagram feed on ("host:port");
	// each datagram becomes one binary message. Empty means no UDP feed.
	UDP string
	// PublishSecret is the bearer token PublishHandler requires. Empty
	// means PublishHandler refuses every request.
	PublishSecret string
	// MaxMessageBytes is the largest message accepted from either feed;
	// larger datagrams are dropped and larger POST bodies answered 413.
	// Zero means 64 KiB.
	MaxMessageBytes int
	// Queue is how many messages a subscriber may fall behind beyond its
	// socket's own buffer (an emulated session's retention window) before
	// it is closed with 4012. Zero means 256.
	Queue int
	// Logger receives feed errors and slow-consumer closes; nil discards
	// them.
	Logger *slog.Logger
}

// Defaults of BroadcastConfig.
const (
	DefaultBroadcastMaxMessageBytes = 64 << 10
	DefaultBroadcastQueue           = 256
)

func (c BroadcastConfig) withDefaults() BroadcastConfig {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultBroadcastMaxMessageBytes
	}
	if c.Queue <= 0 {
		c.Queue = DefaultBroadcastQueue
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Broadcast sends every message of a feed to every socket it holds. Use
// Accept as a service's handler; feed it with Publish, PublishHandler or
// the UDP listener that Start opens.
//
// Each message's payload is stored once and shared by every emulated
// session's retention window, not copied per subscriber. Every
// subscriber has its own writer goroutine and a bounded queue, so a slow
// client never slows the others: one that falls further behind than its
// socket's buffer plus Queue messages is closed with 4012 (slow
// consumer). Subscribers receive messages in publish order.
//
// All methods are safe for concurrent use.
type Broadcast struct {
	cfg BroadcastConfig

	mu     sync.Mutex // guards subs, closed and udp; held by Publish, so all queues get one order
	subs   map[*subscriber]struct{}
	closed bool
	udp    net.PacketConn

	wg sync.WaitGroup // the UDP reader
}

// subscriber is one socket's queue and writer.
type subscriber struct {
	s      bytesocket.Socket
	q      chan *emulation.Frame
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// errSlowConsumer ends a subscriber that fell behind.
var errSlowConsumer = errors.New("server: broadcast subscriber fell behind")

// errBroadcastClosed ends subscribers when the Broadcast is closed.
var errBroadcastClosed = errors.New("server: broadcast closed")

// NewBroadcast returns a broadcast with no subscribers. Call Start to open
// the UDP feed.
func NewBroadcast(cfg BroadcastConfig) (*Broadcast, error) {
	cfg = cfg.withDefaults()
	if cfg.UDP != "" {
		if _, _, err := net.SplitHostPort(cfg.UDP); err != nil {
			return nil, errors.New("server: broadcast udp " + cfg.UDP + ": want host:port")
		}
	}
	return &Broadcast{cfg: cfg, subs: make(map[*subscriber]struct{})}, nil
}

// Accept subscribes s and returns when s is closed, by its client, by a
// slow-consumer close, or by Close. It is meant as a service handler.
// Messages from the client are read and discarded.
func (b *Broadcast) Accept(s bytesocket.Socket) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sub := &subscriber{s: s, q: make(chan *emulation.Frame, b.cfg.Queue), ctx: ctx, cancel: cancel}
	if !b.add(sub) {
		_ = s.Close(bytesocket.StatusGoingAway, "broadcast closed")
		return
	}
	defer b.remove(sub)
	go func() { // reads to see the client's close
		for {
			if _, _, err := s.Read(ctx); err != nil {
				cancel(err)
				return
			}
		}
	}()
	b.send(sub)
}

// send writes queued frames to the subscriber until its context ends.
func (b *Broadcast) send(sub *subscriber) {
	for {
		select {
		case f := <-sub.q:
			if err := writeShared(sub.ctx, sub.s, f); err != nil {
				sub.cancel(err)
			}
		case <-sub.ctx.Done():
			switch context.Cause(sub.ctx) {
			case errSlowConsumer:
				b.cfg.Logger.Info("broadcast: slow consumer closed", "remote", addrString(sub.s.RemoteAddr()), "transport", sub.s.Transport())
				_ = sub.s.Close(bytesocket.StatusSlowConsumer, "slow consumer")
			case errBroadcastClosed:
				_ = sub.s.Close(bytesocket.StatusGoingAway, "broadcast closed")
			}
			return
		}
	}
}

// writeShared writes f to s, sharing f.Data when s is an emulated session.
func writeShared(ctx context.Context, s bytesocket.Socket, f *emulation.Frame) error {
	if es, ok := s.(*emulation.Session); ok {
		return es.WriteFrame(ctx, *f)
	}
	return s.Write(ctx, f.MessageType(), f.Data)
}

func (b *Broadcast) add(sub *subscriber) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.subs[sub] = struct{}{}
	return true
}

func (b *Broadcast) remove(sub *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, sub)
}

// Subscribers returns the number of sockets currently subscribed.
func (b *Broadcast) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Publish queues one message for every subscriber. It never waits for a
// subscriber: one whose queue is full is closed with 4012. p must not be
// modified afterwards; it is shared, not copied. Text payloads must be
// valid UTF-8 (bytesocket.ErrInvalidUTF8 otherwise). Publish returns ctx.Err() if
// ctx has ended.
func (b *Broadcast) Publish(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch typ {
	case bytesocket.Binary:
	case bytesocket.Text:
		if !utf8.Valid(p) {
			return bytesocket.ErrInvalidUTF8
		}
	default:
		return errors.New("server: unknown message type")
	}
	// One frame for every subscriber: the payload and its text encoding
	// (for event streams and long-polls) are shared, made once.
	sf := emulation.SharedFrame(typ, p)
	f := &sf
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		select {
		case sub.q <- f:
		default:
			delete(b.subs, sub)
			sub.cancel(errSlowConsumer)
		}
	}
	return nil
}

// PublishHandler returns a handler that publishes the body of each POST
// carrying "Authorization: Bearer <PublishSecret>" as one message: text
// if the Content-Type is text/*, else binary. It answers 200 once the
// message is queued for every subscriber, 401 for a missing or wrong
// token, 413 for a body over MaxMessageBytes, 415 for a text body that is
// not UTF-8, and 405 for other methods.
func (b *Broadcast) PublishHandler() http.Handler {
	return http.HandlerFunc(b.servePublish)
}

func (b *Broadcast) servePublish(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeStatus(w, http.StatusMethodNotAllowed, "ferry: method not allowed")
		return
	}
	if !b.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry"`)
		writeStatus(w, http.StatusUnauthorized, "ferry: missing or wrong bearer token")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(b.cfg.MaxMessageBytes)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeStatus(w, http.StatusRequestEntityTooLarge, "ferry: message too big")
			return
		}
		writeStatus(w, http.StatusBadRequest, "ferry: reading body: "+err.Error())
		return
	}
	typ := bytesocket.Binary
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "text/") {
		typ = bytesocket.Text
		if !utf8.Valid(body) {
			writeStatus(w, http.StatusUnsupportedMediaType, bytesocket.ErrInvalidUTF8.Error())
			return
		}
	}
	if err := b.Publish(r.Context(), typ, body); err != nil {
		return // the client went away
	}
	writeStatus(w, http.StatusOK, "ok")
}

// authorized reports whether r carries the publish secret, comparing in
// constant time.
func (b *Broadcast) authorized(r *http.Request) bool {
	if b.cfg.PublishSecret == "" {
		return false
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(token), []byte(b.cfg.PublishSecret)) == 1
}

// Start opens the UDP feed if one is configured and reads it until Close.
// Each datagram becomes one binary message.
func (b *Broadcast) Start(ctx context.Context) error {
	if b.cfg.UDP == "" {
		return nil
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", b.cfg.UDP)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed || b.udp != nil {
		b.mu.Unlock()
		pc.Close()
		return errors.New("server: broadcast already started or closed")
	}
	b.udp = pc
	b.mu.Unlock()
	b.wg.Add(1)
	go b.readUDP(pc)
	return nil
}

// UDPAddr returns the address of the UDP feed, or nil before Start.
func (b *Broadcast) UDPAddr() net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.udp == nil {
		return nil
	}
	return b.udp.LocalAddr()
}

func (b *Broadcast) readUDP(pc net.PacketConn) {
	defer b.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.cfg.Logger.Error("broadcast: udp feed failed", "err", err)
			}
			return
		}
		if n > b.cfg.MaxMessageBytes {
			continue
		}
		_ = b.Publish(context.Background(), bytesocket.Binary, append([]byte(nil), buf[:n]...))
	}
}

// Close stops the UDP feed and closes every subscriber with 1001. Accept
// calls made afterwards close their socket at once.
func (b *Broadcast) Close() error {
	b.mu.Lock()
	b.closed = true
	pc := b.udp
	for sub := range b.subs {
		sub.cancel(errBroadcastClosed)
	}
	b.mu.Unlock()
	var err error
	if pc != nil {
		err = pc.Close()
	}
	b.wg.Wait()
	return err
}
