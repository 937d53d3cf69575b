// Package wsnative adapts a gorilla/websocket connection to a
// bytesocket.Socket: plain RFC 6455, used by the server for clients
// without Ferry's framing (Accept) and by the Go client's "plain" mode
// (New). A server's connections, plain or Ferry's, are upgraded with a
// Guard, which pings silent peers and answers invalid close frames.
// WriteRaw sends frames pre-encoded with wire.AppendServerFrame.
package wsnative

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/gorilla/websocket"
)

// Socket is a plain RFC 6455 connection as a bytesocket.Socket. It is
// safe for concurrent use as bytesocket.Socket documents.
type Socket struct {
	conn     *websocket.Conn
	guard    *Guard // nil unless made by Accept
	header   http.Header
	maxBytes int

	msgs     chan inMsg    // unbuffered; fed by readLoop
	readDone chan struct{} // closed when readLoop ends; readErr set before
	readErr  error
	wmu      sync.Mutex // serializes writes
	// peerClose is the peer's close frame, set by the reader before
	// readDone closes; answered once the application reads it.
	peerClose *bytesocket.CloseError
	answered  sync.Once
	closed    atomic.Bool
}

type inMsg struct {
	typ bytesocket.MessageType
	p   []byte
}

var _ bytesocket.Socket = (*Socket)(nil)

// New wraps conn, whose opening request had the given headers; messages
// over maxBytes close the connection with 1009. It starts a reader
// goroutine that ends when the connection does.
func New(conn *websocket.Conn, header http.Header, maxBytes int) *Socket {
	return newSocket(conn, nil, header, maxBytes)
}

// Accept upgrades r as up.Upgrade does, with a Guard, and returns the
// connection as a Socket (see New) that pings its peer after heartbeat
// of silence and is lost (StatusAbnormalClosure) after a further
// heartbeat without an answer; a zero heartbeat never pings. While the
// application has not read a message the peer is not pinged: the reader
// waits for it, so an answer could not be seen.
func Accept(up *websocket.Upgrader, w http.ResponseWriter, r *http.Request, responseHeader http.Header, maxBytes int, heartbeat time.Duration) (*Socket, error) {
	conn, g, err := Upgrade(up, w, r, responseHeader)
	if err != nil {
		return nil, err
	}
	s := newSocket(conn, g, r.Header.Clone(), maxBytes)
	g.KeepAlive(heartbeat, func() error { return s.ping(heartbeat) })
	return s, nil
}

func newSocket(conn *websocket.Conn, g *Guard, header http.Header, maxBytes int) *Socket {
	s := &Socket{
		conn: conn, guard: g, header: header, maxBytes: maxBytes,
		msgs: make(chan inMsg), readDone: make(chan struct{}),
	}
	conn.SetReadLimit(int64(maxBytes))
	conn.SetCloseHandler(s.echoClose)
	go s.readLoop()
	return s
}

func (s *Socket) readLoop() {
	defer close(s.readDone)
	for {
		typ, p, err := s.conn.ReadMessage()
		if err != nil {
			s.readErr = s.mapReadErr(err)
			return
		}
		if typ == websocket.TextMessage && !utf8.Valid(p) {
			s.sendClose(bytesocket.StatusInvalidFramePayload, "invalid UTF-8 in text message")
			s.readErr = bytesocket.CloseError{Code: bytesocket.StatusInvalidFramePayload, Reason: "invalid UTF-8 in text message"}
			return
		}
		// Read takes it; after Close, Close's goroutine drains until the
		// peer's close ends this loop.
		s.guard.hold(true)
		s.msgs <- inMsg{bytesocket.MessageType(typ), p}
		s.guard.hold(false)
	}
}

// echoClose is gorilla's close handler. It answers nothing yet: the
// peer's close is answered when the application reads it (see Read),
// after it has answered the messages before it, as the reader of a
// native WebSocket does. gorilla reads one message ahead of the
// application, so answering here could overtake the reply to the last
// message.
func (s *Socket) echoClose(code int, text string) error {
	s.peerClose = &bytesocket.CloseError{Code: bytesocket.StatusCode(code), Reason: text}
	return nil
}

// answerClose answers the peer's close, once, with the same code and
// reason (an empty close frame when the peer sent no code).
func (s *Socket) answerClose() {
	if ce := s.peerClose; ce != nil {
		s.answered.Do(func() { s.sendClose(ce.Code, ce.Reason) })
	}
}

func (s *Socket) mapReadErr(err error) error {
	if err := s.guard.Err(); err != nil {
		return err // an invalid close frame, answered by the guard
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return bytesocket.CloseError{Code: bytesocket.StatusCode(ce.Code), Reason: ce.Text}
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		s.sendClose(bytesocket.StatusMessageTooBig, "message too big")
		s.drain()
		return bytesocket.CloseError{Code: bytesocket.StatusMessageTooBig, Reason: "message too big"}
	}
	return bytesocket.CloseError{Code: bytesocket.StatusAbnormalClosure}
}

// drain reads and drops what the peer still sends, for a second at most
// or until it closes, after our close for an oversized message: closing
// the connection with the rest of that message unread would reset it, and
// a reset can destroy our close frame before the peer reads it.
func (s *Socket) drain() {
	nc := s.conn.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, nc)
}

// Read returns the next message. See bytesocket.Socket.
func (s *Socket) Read(ctx context.Context) (bytesocket.MessageType, []byte, error) {
	if s.closed.Load() {
		return 0, nil, bytesocket.ErrClosed("read")
	}
	select {
	case m := <-s.msgs:
		return m.typ, m.p, nil
	case <-s.readDone:
		if s.closed.Load() {
			return 0, nil, bytesocket.ErrClosed("read")
		}
		s.answerClose()
		return 0, nil, s.readErr
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// Write sends one message. See bytesocket.Socket.
func (s *Socket) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	if typ == bytesocket.Text && !utf8.Valid(p) {
		return bytesocket.ErrInvalidUTF8
	}
	if typ != bytesocket.Text && typ != bytesocket.Binary {
		return errors.New("wsnative: unknown message type")
	}
	if s.closed.Load() {
		return bytesocket.ErrClosed("write")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	dl, _ := ctx.Deadline()
	_ = s.conn.SetWriteDeadline(dl)
	if err := s.conn.WriteMessage(int(typ), p); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-s.readDone:
			if s.readErr != nil {
				return s.readErr
			}
		default:
		}
		return err
	}
	return nil
}

// Close sends a close frame and closes the connection once the peer
// answers (or after 5 s). See bytesocket.Socket.
func (s *Socket) Close(code bytesocket.StatusCode, reason string) error {
	if len(reason) > bytesocket.MaxReasonBytes {
		return bytesocket.ErrReasonTooLong
	}
	if !s.closed.CompareAndSwap(false, true) {
		return bytesocket.ErrClosed("close")
	}
	s.sendClose(code, reason)
	go func() {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.msgs: // drain until the peer's close arrives
				continue
			case <-s.readDone:
			case <-t.C:
			}
			break
		}
		_ = s.conn.Close()
	}()
	return nil
}

// ping sends a ping, after any write in progress: WriteRaw's writes
// bypass gorilla/websocket's lock, and WriteControl resets the
// connection's write deadline.
func (s *Socket) ping(timeout time.Duration) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(timeout))
}

func (s *Socket) sendClose(code bytesocket.StatusCode, reason string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	msg := websocket.FormatCloseMessage(int(code), reason)
	_ = s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second))
}

// Subprotocol returns the negotiated subprotocol.
func (s *Socket) Subprotocol() string { return s.conn.Subprotocol() }

// Transport returns "websocket".
func (s *Socket) Transport() string { return "websocket" }

// RemoteAddr returns the peer's address.
func (s *Socket) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// Header returns the opening request's headers.
func (s *Socket) Header() http.Header { return s.header }

// WriteRaw sends frames made by wire.AppendServerFrame in one system
// call (writev). Each frame must be a whole data frame; text frames must
// carry valid UTF-8.
func (s *Socket) WriteRaw(ctx context.Context, frames net.Buffers) error {
	if s.closed.Load() {
		return bytesocket.ErrClosed("write")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	nc := s.conn.NetConn()
	if s.guard != nil {
		nc = s.guard.raw // writev: net.Buffers uses it on net's own types only
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	dl, _ := ctx.Deadline()
	_ = nc.SetWriteDeadline(dl)
	// Each frame's bytes go out whole (the connection's write lock), so
	// gorilla's own control frames never land inside one.
	if _, err := frames.WriteTo(nc); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}
