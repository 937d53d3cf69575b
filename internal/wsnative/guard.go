package wsnative

import (
	"bufio"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/gorilla/websocket"
)

// A Guard watches the bytes a server reads from a WebSocket peer, below
// gorilla/websocket, for two things gorilla/websocket leaves to it:
//
//   - a close frame that gorilla/websocket would answer wrongly (a one-byte
//     payload, a code that may not be sent, a reason that is not UTF-8;
//     RFC 6455 §5.5.1, §7.4) is answered at once with 1002 or 1007, and
//     Err reports it;
//   - after KeepAlive, a peer that has sent nothing for an interval is
//     pinged, and the connection is closed when it then sends nothing for
//     another interval (a half-open connection: the peer vanished without
//     a FIN). Browsers answer pings on their own.
//
// Upgrade makes one per connection; it lives as long as the connection.
// Its methods are safe from any goroutine.
type Guard struct {
	ws    *websocket.Conn // set by Upgrade, before the first read
	raw   net.Conn        // the hijacked connection
	scan  closeScanner    // touched only by the connection's reader
	err   atomic.Pointer[bytesocket.CloseError]
	alive keepAlive
}

// Upgrade upgrades an RFC 6455 request as up.Upgrade does, and guards the
// connection.
func Upgrade(up *websocket.Upgrader, w http.ResponseWriter, r *http.Request, responseHeader http.Header) (*websocket.Conn, *Guard, error) {
	g := &Guard{}
	g.alive.base = time.Now()
	conn, err := up.Upgrade(hijacker{w, g}, r, responseHeader)
	if err != nil {
		return nil, nil, err
	}
	g.ws = conn
	return conn, g, nil
}

// KeepAlive pings the peer once it has sent nothing for interval, with
// ping, and closes the connection once it has sent nothing for a further
// interval; the connection's reader then fails as for a drop. A zero
// interval, or a nil Guard, leaves the connection unwatched. ping may
// wait for a write in progress.
func (g *Guard) KeepAlive(interval time.Duration, ping func() error) {
	if g != nil {
		g.alive.start(interval, ping, func() { _ = g.raw.Close() })
	}
}

// Err returns the CloseError that answered an invalid close frame from
// the peer (see Guard), or nil.
func (g *Guard) Err() error {
	if g == nil {
		return nil
	}
	if ce := g.err.Load(); ce != nil {
		return *ce
	}
	return nil
}

// hold pauses KeepAlive while the reader is not reading; see keepAlive.
func (g *Guard) hold(on bool) {
	if g != nil {
		g.alive.hold(on)
	}
}

// saw watches bytes read from the peer.
func (g *Guard) saw(p []byte) {
	g.alive.seen()
	payload, ok := g.scan.scan(p)
	if !ok {
		return
	}
	ce, ok := checkClose(payload)
	if !ok || g.ws == nil {
		return
	}
	g.err.Store(&ce)
	// gorilla/websocket parses the frame after this; once a close has been
	// sent its own answer fails with websocket.ErrCloseSent.
	msg := websocket.FormatCloseMessage(int(ce.Code), ce.Reason)
	_ = g.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second))
}

// hijacker hands gorilla/websocket the hijacked connection wrapped in a
// guardedConn.
type hijacker struct {
	http.ResponseWriter
	g *Guard
}

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.g.raw = nc
	return guardedConn{nc, h.g}, brw, nil
}

// guardedConn shows its Guard every byte read. Write passes through; for
// writev, use Guard.raw (net.Buffers only uses writev on the net types).
type guardedConn struct {
	net.Conn
	g *Guard
}

func (c guardedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.g.saw(p[:n])
	}
	return n, err
}

func (c guardedConn) Close() error {
	c.g.alive.stop()
	return c.Conn.Close()
}
