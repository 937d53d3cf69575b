// Package peers holds Go clients for the servers Ferry's benchmarks compare
// against: SockJS (DialSockJS) and Socket.IO (DialSocketIO). Each speaks
// the peer's own wire protocol, written from the protocols' documentation
// and the servers' sources, and returns a bytesocket.Socket, so the load
// tool drives Ferry and its peers through one interface.
//
// The clients do what the peers' browser clients do on the wire (message
// framing, batching of upstream messages while a POST is in flight,
// reopening a streaming response the server ended) and nothing more: no
// reconnection, no acknowledgements, no buffering across a lost connection.
// A lost connection ends the socket with StatusAbnormalClosure.
//
// The servers they are tested against are bench/peers/sockjs-server.js and
// bench/peers/socketio-server.js.
package peers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ferrygw/ferry/bytesocket"
)

// inboxSize is how many decoded messages wait for Read before the
// receiving goroutine stops reading from the network.
const inboxSize = 1024

// maxPending is how many bytes of upstream messages may wait for the next
// POST on an HTTP carrier; Write blocks beyond it.
const maxPending = 1 << 20

// message is one received message.
type message struct {
	typ bytesocket.MessageType
	p   []byte
}

// conn is what both protocols' sockets share: the queue of received
// messages, the end state, the queue of messages waiting for a POST, and
// the accessors.
type conn struct {
	transport string
	remote    net.Addr
	header    http.Header

	ctx    context.Context // ends with the socket; every goroutine watches it
	cancel context.CancelFunc

	in      chan message
	ended   chan struct{} // closed by end; endErr is set before
	endErr  error
	endOnce sync.Once
	closed  atomic.Bool // Close was called

	out outbox // upstream messages for an HTTP carrier
}

func newConn(transport string, remote net.Addr) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		transport: transport, remote: remote, header: http.Header{},
		ctx: ctx, cancel: cancel,
		in: make(chan message, inboxSize), ended: make(chan struct{}),
	}
	c.out.init()
	return c
}

// deliver queues a received message for Read. It reports false once the
// socket has ended.
func (c *conn) deliver(typ bytesocket.MessageType, p []byte) bool {
	select {
	case c.in <- message{typ, p}:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// end records how the socket ended (the first call wins) and stops its
// goroutines. Messages already queued can still be read.
func (c *conn) end(err error) {
	c.endOnce.Do(func() {
		c.endErr = err
		close(c.ended)
		c.cancel()
	})
}

// lost ends the socket as a lost connection.
func (c *conn) lost(reason string) {
	c.end(bytesocket.CloseError{Code: bytesocket.StatusAbnormalClosure, Reason: reason})
}

// Read returns the next message. See bytesocket.Socket.
func (c *conn) Read(ctx context.Context) (bytesocket.MessageType, []byte, error) {
	if c.closed.Load() {
		return 0, nil, bytesocket.ErrClosed("read")
	}
	select {
	case m := <-c.in:
		return m.typ, m.p, nil
	case <-c.ended:
		if c.closed.Load() {
			return 0, nil, bytesocket.ErrClosed("read")
		}
		select {
		case m := <-c.in: // received before the end
			return m.typ, m.p, nil
		default:
		}
		return 0, nil, c.endErr
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// writeErr returns the error a Write gets on an ended socket, or nil.
func (c *conn) writeErr() error {
	if c.closed.Load() {
		return bytesocket.ErrClosed("write")
	}
	select {
	case <-c.ended:
		return c.endErr
	default:
	}
	return nil
}

// startClose marks the socket closed by the application. It returns an
// error for a reason that is too long or a second Close.
func (c *conn) startClose(reason string) error {
	if len(reason) > bytesocket.MaxReasonBytes {
		return bytesocket.ErrReasonTooLong
	}
	if !c.closed.CompareAndSwap(false, true) {
		return bytesocket.ErrClosed("close")
	}
	return nil
}

// Subprotocol returns "": neither peer negotiates subprotocols.
func (c *conn) Subprotocol() string { return "" }

// Transport returns the peer's name for the carrier in use.
func (c *conn) Transport() string { return c.transport }

// RemoteAddr returns the server's address.
func (c *conn) RemoteAddr() net.Addr { return c.remote }

// Header returns the headers the client sends besides the defaults: none.
func (c *conn) Header() http.Header { return c.header }

// outbox holds encoded upstream messages until the carrier's sender takes
// them for one POST, as the browser clients batch what is written while a
// POST is in flight.
type outbox struct {
	mu    sync.Mutex
	items [][]byte
	bytes int
	space chan struct{} // closed (and replaced) whenever take empties the box
	wake  chan struct{} // capacity 1: something was put
}

func (o *outbox) init() {
	o.space = make(chan struct{})
	o.wake = make(chan struct{}, 1)
}

// put queues items, together, waiting while maxPending bytes are
// already queued.
func (o *outbox) put(ctx context.Context, c *conn, items ...[]byte) error {
	for {
		o.mu.Lock()
		if o.bytes < maxPending || len(o.items) == 0 {
			o.pushLocked(items)
			o.mu.Unlock()
			return nil
		}
		space := o.space
		o.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ended:
			return c.writeErr()
		}
	}
}

// push queues items at once, whatever is queued already.
func (o *outbox) push(items ...[]byte) {
	o.mu.Lock()
	o.pushLocked(items)
	o.mu.Unlock()
}

func (o *outbox) pushLocked(items [][]byte) {
	for _, it := range items {
		o.items = append(o.items, it)
		o.bytes += len(it)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take removes and returns the queued items, at most limit bytes of them
// (but at least one); limit <= 0 means no limit.
func (o *outbox) take(limit int) [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, size := 0, 0
	for n < len(o.items) && (limit <= 0 || n == 0 || size+len(o.items[n]) <= limit) {
		size += len(o.items[n])
		n++
	}
	items := o.items[:n:n]
	o.items = o.items[n:]
	o.bytes -= size
	if len(o.items) == 0 {
		o.items = nil
	} else {
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	close(o.space)
	o.space = make(chan struct{})
	return items
}

// hostAddr is the address of a server named by host:port.
func hostAddr(hostport string) net.Addr {
	host, port, err := net.SplitHostPort(hostport)
	if err == nil {
		if ip := net.ParseIP(host); ip != nil {
			if p, err := strconv.Atoi(port); err == nil {
				return &net.TCPAddr{IP: ip, Port: p}
			}
		}
	}
	return namedAddr(hostport)
}

type namedAddr string

func (a namedAddr) Network() string { return "tcp" }
func (a namedAddr) String() string  { return string(a) }

// ErrTextOnly is returned by a SockJS socket's Write for a Binary
// message: SockJS carries strings only.
var ErrTextOnly = errors.New("peers: SockJS carries text messages only")

// httpClient returns the HTTP client of one socket: its own connection
// pool, as Ferry's Go client has.
func httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
}
