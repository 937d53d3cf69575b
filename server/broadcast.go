package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// BroadcastConfig configures a Broadcast. The zero value has no UDP feed
// and no HTTP publishing.
type BroadcastConfig struct {
	// UDP is the address to receive the datagram feed on ("host:port");
	// each datagram becomes one binary message. Empty means no UDP feed.
	UDP string
	// UDPSources lists the networks datagrams are accepted from; others
	// are dropped and counted (UDPDropped). Nil means loopback only
	// (127.0.0.0/8 and ::1/128): anyone who can reach the port could
	// otherwise publish.
	UDPSources []netip.Prefix
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
	// QueueTime, if not nil, observes each message's seconds from Publish
	// until it is queued for every subscriber (Metrics.BroadcastQueue
	// gives a service's ferry_broadcast_queue_seconds). Nil times nothing.
	QueueTime prometheus.Observer
}

// Defaults of BroadcastConfig.
const (
	DefaultBroadcastMaxMessageBytes = 64 << 10
	DefaultBroadcastQueue           = 256
)

// defaultUDPSources is BroadcastConfig.UDPSources's default: loopback.
var defaultUDPSources = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func (c BroadcastConfig) withDefaults() BroadcastConfig {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultBroadcastMaxMessageBytes
	}
	if c.Queue <= 0 {
		c.Queue = DefaultBroadcastQueue
	}
	if c.UDPSources == nil {
		c.UDPSources = defaultUDPSources
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
// Each message is encoded once and shared by every subscriber: its
// payload and its event-stream text by every emulated session's retention
// window, its RFC 6455 frame by every plain WebSocket. One fan-out
// goroutine, running only while there is something to deliver, puts the
// messages published since its last pass straight into each emulated
// session's window, without a goroutine or queue per subscriber; each
// session's carrier then sends everything pending in one write. The
// busier the feed, the more messages share a pass and a write. A plain WebSocket subscriber has a
// writer goroutine and a bounded queue, drained into one write (writev)
// per wake-up. A slow client never slows the others: one that falls more
// than Queue messages behind its socket's own buffer (an emulated
// session's retention window, a WebSocket's queue) is closed with 4012
// (slow consumer). Subscribers receive messages in publish order.
//
// All methods are safe for concurrent use.
type Broadcast struct {
	cfg BroadcastConfig

	mu     sync.Mutex // guards subs, closed and udp; held while fanning out, so all subscribers get one order
	subs   map[*subscriber]struct{}
	closed bool
	udp    net.PacketConn

	pmu     sync.Mutex // guards the fields below
	pending []*message // published, not yet fanned out
	spare   []*message // pending's last backing array, for reuse
	pubSeq  uint64     // number of the last message published
	fanning bool       // a fanOut goroutine is running

	wg         sync.WaitGroup // the UDP reader
	udpDropped atomic.Uint64  // datagrams from sources not in UDPSources
}

// message is one published message, encoded once for every subscriber.
type message struct {
	seq    uint64     // publish order; a subscriber gets those after its from
	f      wire.Frame // payload and event-stream text, for sessions
	native []byte     // the RFC 6455 server frame, for plain WebSockets
	at     time.Time  // when published, if QueueTime is set
}

// subscriber is one socket. Emulated sessions (es) take messages straight
// into their windows; other sockets have a queue and a writer goroutine.
type subscriber struct {
	s      bytesocket.Socket
	es     *emulation.Session
	raw    rawWriter     // non-nil: writes pre-encoded frames in one call
	q      chan *message // nil for sessions
	from   uint64        // pubSeq when it subscribed
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// rawWriter is a socket that can send pre-encoded frames (wsnative).
type rawWriter interface {
	WriteRaw(ctx context.Context, frames net.Buffers) error
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
	sub := &subscriber{s: s, ctx: ctx, cancel: cancel}
	if es, ok := s.(*emulation.Session); ok {
		sub.es = es
	} else {
		sub.q = make(chan *message, b.cfg.Queue)
		sub.raw, _ = s.(rawWriter)
	}
	if !b.add(sub) {
		_ = s.Close(bytesocket.StatusGoingAway, "broadcast closed")
		return
	}
	defer b.remove(sub)
	if sub.es != nil {
		b.read(sub) // Publish writes; this goroutine only waits for the end
	} else {
		go b.read(sub)
		b.send(sub)
	}
	switch context.Cause(ctx) {
	case errSlowConsumer:
		b.cfg.Logger.Info("broadcast: slow consumer closed", "remote", addrString(s.RemoteAddr()), "transport", s.Transport())
		_ = s.Close(bytesocket.StatusSlowConsumer, "slow consumer")
	case errBroadcastClosed:
		_ = s.Close(bytesocket.StatusGoingAway, "broadcast closed")
	}
}

// read reads and discards until the socket or the subscription ends.
func (b *Broadcast) read(sub *subscriber) {
	for {
		if _, _, err := sub.s.Read(sub.ctx); err != nil {
			sub.cancel(err)
			return
		}
	}
}

// send writes queued messages to a non-session subscriber until its
// context ends, taking everything queued at each wake-up.
func (b *Broadcast) send(sub *subscriber) {
	var batch []*message
	var bufs net.Buffers
	for {
		select {
		case m := <-sub.q:
			batch = append(batch[:0], m)
		drain:
			for len(batch) < 256 {
				select {
				case m := <-sub.q:
					batch = append(batch, m)
				default:
					break drain
				}
			}
			if err := b.write(sub, batch, &bufs); err != nil {
				sub.cancel(err)
			}
			clear(batch)
		case <-sub.ctx.Done():
			return
		}
	}
}

// write sends a batch: pre-encoded in one call when the socket can, else
// message by message.
func (b *Broadcast) write(sub *subscriber, batch []*message, bufs *net.Buffers) error {
	if sub.raw != nil {
		*bufs = (*bufs)[:0]
		for _, m := range batch {
			*bufs = append(*bufs, m.native)
		}
		err := sub.raw.WriteRaw(sub.ctx, *bufs)
		clear((*bufs)[:cap(*bufs)])
		return err
	}
	for _, m := range batch {
		if err := sub.s.Write(sub.ctx, m.f.MessageType(), m.f.Data); err != nil {
			return err
		}
	}
	return nil
}

func (b *Broadcast) add(sub *subscriber) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.pmu.Lock()
	sub.from = b.pubSeq
	b.pmu.Unlock()
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

// Publish queues one message for every socket subscribed when it is
// called, and returns without waiting for any of them: a subscriber that
// is too far behind is closed with 4012. p must not
// be modified afterwards; it is shared, not copied. Text payloads must be
// valid UTF-8 (bytesocket.ErrInvalidUTF8 otherwise). Publish returns
// ctx.Err() if ctx has ended.
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
	// One encoding for every subscriber.
	m := &message{f: wire.SharedFrame(typ, p), native: wire.AppendServerFrame(nil, typ, p)}
	if b.cfg.QueueTime != nil {
		m.at = time.Now()
	}
	b.pmu.Lock()
	b.pubSeq++
	m.seq = b.pubSeq
	b.pending = append(b.pending, m)
	start := !b.fanning
	b.fanning = true
	b.pmu.Unlock()
	if start {
		go b.fanOut()
	}
	return nil
}

// fanOut delivers pending messages until there are none. While it hands
// one batch to every subscriber, newly published messages gather into
// the next batch, so under load each subscriber gets several messages per
// wake-up (and its carrier sends them in one write) instead of one.
func (b *Broadcast) fanOut() {
	for {
		b.pmu.Lock()
		batch := b.pending
		b.pending = b.spare[:0]
		b.spare = nil
		if len(batch) == 0 {
			b.fanning = false
			b.pmu.Unlock()
			return
		}
		b.pmu.Unlock()
		b.deliver(batch)
		b.timeQueue(batch)
		clear(batch)
		b.pmu.Lock()
		b.spare = batch[:0]
		b.pmu.Unlock()
	}
}

// deliver gives a batch of messages, in order, to every subscriber.
func (b *Broadcast) deliver(batch []*message) {
	frames := make([]wire.Frame, len(batch))
	for i, m := range batch {
		frames[i] = m.f
	}
	first := batch[0].seq
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		skip := 0 // messages published before sub subscribed
		if sub.from >= first {
			skip = int(min(sub.from-first+1, uint64(len(batch))))
		}
		if skip == len(batch) {
			continue
		}
		if sub.es != nil {
			ok, err := sub.es.TryWriteFrames(frames[skip:], b.cfg.Queue)
			switch {
			case err != nil: // closing: its Accept returns soon
				delete(b.subs, sub)
			case !ok:
				delete(b.subs, sub)
				sub.cancel(errSlowConsumer)
			}
			continue
		}
	queue:
		for _, m := range batch[skip:] {
			select {
			case sub.q <- m:
			default:
				delete(b.subs, sub)
				sub.cancel(errSlowConsumer)
				break queue
			}
		}
	}
}

// timeQueue observes how long the messages of a batch just delivered
// took from Publish.
func (b *Broadcast) timeQueue(batch []*message) {
	if b.cfg.QueueTime == nil {
		return
	}
	now := time.Now()
	for _, m := range batch {
		b.cfg.QueueTime.Observe(now.Sub(m.at).Seconds())
	}
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
// Each datagram from a source in UDPSources becomes one binary message.
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

// UDPDropped returns how many datagrams were dropped because their
// source is not in UDPSources.
func (b *Broadcast) UDPDropped() uint64 { return b.udpDropped.Load() }

func (b *Broadcast) readUDP(pc net.PacketConn) {
	defer b.wg.Done()
	buf := make([]byte, 65536)
	var logged time.Time // last drop logged
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.cfg.Logger.Error("broadcast: udp feed failed", "err", err)
			}
			return
		}
		if !b.udpSourceAllowed(from) {
			b.dropUDP(from, &logged)
			continue
		}
		if n > b.cfg.MaxMessageBytes {
			continue
		}
		_ = b.Publish(context.Background(), bytesocket.Binary, append([]byte(nil), buf[:n]...))
	}
}

// udpSourceAllowed reports whether a datagram from addr is accepted.
func (b *Broadcast) udpSourceAllowed(addr net.Addr) bool {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return false
	}
	ip := ua.AddrPort().Addr().Unmap()
	return slices.ContainsFunc(b.cfg.UDPSources, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// dropUDP counts a datagram from a source not allowed, logging at debug
// level at most every 10 s.
func (b *Broadcast) dropUDP(from net.Addr, logged *time.Time) {
	n := b.udpDropped.Add(1)
	if time.Since(*logged) >= 10*time.Second {
		*logged = time.Now()
		b.cfg.Logger.Debug("broadcast: datagram from a source not in udp_sources dropped",
			"remote", addrString(from), "dropped", n)
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
