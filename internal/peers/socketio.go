package peers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/gorilla/websocket"
)

// The Socket.IO transports DialSocketIO speaks.
const (
	SocketIOPolling   = "polling"   // Engine.IO long-polling: GET down, POST up
	SocketIOWebSocket = "websocket" // Engine.IO over RFC 6455, opened directly (no upgrade from polling)
)

// The protocols, as socket.io 4.x serves them and socket.io-client 4.x
// speaks them:
//
// Engine.IO v4 (the carrier), at /socket.io/?EIO=4&transport=...:
//   - A packet is a type digit and data: 0 open (JSON: sid, pingInterval,
//     pingTimeout, maxPayload), 1 close, 2 ping, 3 pong, 4 message,
//     5 upgrade, 6 noop. A binary message is a binary WebSocket frame, or
//     "b" and standard base64 in a polling payload.
//   - polling: GET ...&transport=polling opens the session (answers the
//     open packet); then GET ...&sid=S is the long-poll and POST ...&sid=S
//     carries upstream packets. A payload is packets joined by \x1e.
//   - websocket: each frame is one packet; the server sends the open
//     packet first.
//   - The server pings every pingInterval; the client answers pong.
//
// Socket.IO v5 (inside message packets): a type digit (0 connect,
// 1 disconnect, 2 event, 3 ack, 4 connect error, 5 binary event, 6 binary
// ack), for binary packets the attachment count and "-", the namespace and
// "," unless it is "/", an optional ack id, then JSON. The client connects
// to its namespace ("40/echo,"), the server answers `40/echo,{"sid":...}`.
// send(m) is the event "message": `42/echo,["message","text"]`; a binary
// argument becomes `451-/echo,["message",{"_placeholder":true,"num":0}]`
// followed by one binary message packet, the attachment.

// socketIO is a Socket.IO socket, in one namespace, as a bytesocket.Socket.
type socketIO struct {
	*conn
	hc     *http.Client
	eio    string // the Engine.IO URL with EIO and transport, without sid
	prefix string // namespace and comma, "" for "/"
	nsp    string

	maxPayload int // largest POST body the server accepts

	ws  *websocket.Conn
	wmu sync.Mutex

	connected chan error // the namespace's answer to connect

	// Receiving state, owned by the receiving goroutine.
	binHeader []byte   // the binary event waiting for its attachments
	binWant   int      // how many attachments it has
	binGot    [][]byte // those received so far
	nspOpen   bool
}

// openPacket is the data of Engine.IO's open packet.
type openPacket struct {
	SID          string `json:"sid"`
	PingInterval int    `json:"pingInterval"`
	PingTimeout  int    `json:"pingTimeout"`
	MaxPayload   int    `json:"maxPayload"`
}

// DialSocketIO connects a Socket.IO socket to the namespace named by
// baseURL's path ("/" when empty) on the server at baseURL's host, with
// Engine.IO at the default path /socket.io/: "http://127.0.0.1:9999/echo"
// is namespace "/echo". transport is "polling" or "websocket" (opened
// directly, as with the client option transports: ["websocket"]). Text
// messages travel as send(string), Binary ones as send(ArrayBuffer), both
// the "message" event; other events are ignored.
func DialSocketIO(ctx context.Context, baseURL, transport string) (bytesocket.Socket, error) {
	switch transport {
	case SocketIOPolling, SocketIOWebSocket:
	default:
		return nil, fmt.Errorf("peers: unknown Socket.IO transport %q", transport)
	}
	u, err := httpBase(baseURL)
	if err != nil {
		return nil, err
	}
	nsp := u.Path
	if nsp == "" {
		nsp = "/"
	}
	s := &socketIO{
		conn:       newConn(transport, hostAddr(u.Host)),
		hc:         httpClient(),
		eio:        fmt.Sprintf("%s://%s/socket.io/?EIO=4&transport=%s", u.Scheme, u.Host, transport),
		nsp:        nsp,
		maxPayload: 1e6,
		connected:  make(chan error, 1),
	}
	if nsp != "/" {
		s.prefix = nsp + ","
	}
	stop := context.AfterFunc(ctx, func() { s.lost("dial canceled") })
	defer stop()
	if transport == SocketIOWebSocket {
		err = s.openWS()
	} else {
		err = s.openPolling()
	}
	if err == nil {
		select {
		case err = <-s.connected:
		case <-s.ended:
			err = s.endErr
		}
	}
	if err == nil && !stop() {
		err = ctx.Err()
	}
	if err != nil {
		s.lost(err.Error())
		s.hc.CloseIdleConnections()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return s, nil
}

func (s *socketIO) openWS() error {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.DialContext(s.ctx, wsScheme(s.eio), nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("peers: socket.io websocket: %s", resp.Status)
		}
		return fmt.Errorf("peers: socket.io websocket: %w", err)
	}
	s.ws = c
	s.remote = c.RemoteAddr()
	context.AfterFunc(s.ctx, func() { _ = c.Close() })
	typ, p, err := c.ReadMessage()
	if err != nil {
		return fmt.Errorf("peers: socket.io websocket: %w", err)
	}
	if typ != websocket.TextMessage {
		return errors.New("peers: socket.io websocket: binary open packet")
	}
	if err := s.open(p); err != nil {
		return err
	}
	if err := s.ws.WriteMessage(websocket.TextMessage, []byte("40"+s.prefix)); err != nil {
		return fmt.Errorf("peers: socket.io websocket: %w", err)
	}
	go s.wsLoop()
	return nil
}

func (s *socketIO) wsLoop() {
	for {
		typ, p, err := s.ws.ReadMessage()
		if err != nil {
			s.lost("websocket: " + err.Error())
			return
		}
		var ok bool
		if typ == websocket.BinaryMessage {
			ok = s.binaryPacket(p)
		} else {
			ok = s.textPacket(p)
		}
		if !ok {
			return
		}
	}
}

// open reads Engine.IO's open packet.
func (s *socketIO) open(p []byte) error {
	var o openPacket
	if len(p) == 0 || p[0] != '0' || json.Unmarshal(p[1:], &o) != nil || o.SID == "" {
		return fmt.Errorf("peers: socket.io: bad open packet %.40q", p)
	}
	if o.MaxPayload > 0 {
		s.maxPayload = o.MaxPayload
	}
	s.eio += "&sid=" + o.SID
	return nil
}

func (s *socketIO) openPolling() error {
	body, err := s.get()
	if err != nil {
		return err
	}
	packets := bytes.Split(body, []byte{0x1e})
	if err := s.open(packets[0]); err != nil {
		return err
	}
	s.out.push([]byte("40" + s.prefix))
	go s.pollLoop(packets[1:])
	go s.sendLoop()
	return nil
}

// get makes one long-poll GET and returns the payload.
func (s *socketIO) get() ([]byte, error) {
	resp, err := s.request(http.MethodGet, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("peers: socket.io poll: %w", err)
	}
	return body, nil
}

func (s *socketIO) pollLoop(packets [][]byte) {
	for {
		for _, p := range packets {
			var ok bool
			if len(p) > 0 && p[0] == 'b' {
				bin, err := base64.StdEncoding.AppendDecode(nil, p[1:])
				if err != nil {
					s.lost("socket.io: bad base64 packet")
					return
				}
				ok = s.binaryPacket(bin)
			} else {
				ok = s.textPacket(p)
			}
			if !ok {
				return
			}
		}
		body, err := s.get()
		if err != nil {
			s.lost(err.Error())
			return
		}
		packets = bytes.Split(body, []byte{0x1e})
	}
}

// sendLoop posts what Write queued, every packet queued while a POST was
// in flight in the next one (up to the server's maxPayload).
func (s *socketIO) sendLoop() {
	var body []byte
	for {
		select {
		case <-s.out.wake:
		case <-s.ctx.Done():
			return
		}
		items := s.out.take(s.maxPayload - 256)
		if len(items) == 0 {
			continue
		}
		body = bytes.Join(items, []byte{0x1e})
		resp, err := s.request(http.MethodPost, body)
		if err != nil {
			s.lost(err.Error())
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// request makes one Engine.IO polling request and checks its status.
func (s *socketIO) request(method string, body []byte) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(s.ctx, method, s.eio, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("peers: socket.io %s: %w", method, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		resp.Body.Close()
		return nil, fmt.Errorf("peers: socket.io %s: %s %s", method, resp.Status, msg)
	}
	return resp, nil
}

// textPacket handles one Engine.IO text packet; it reports false once
// the socket has ended.
func (s *socketIO) textPacket(p []byte) bool {
	if len(p) == 0 {
		s.lost("socket.io: empty packet")
		return false
	}
	switch p[0] {
	case '1':
		s.end(bytesocket.CloseError{Code: bytesocket.StatusGoingAway, Reason: "engine.io close"})
		return false
	case '2':
		s.sendRaw([]byte("3" + string(p[1:])))
		return true
	case '3', '5', '6':
		return true
	case '4':
		return s.ioPacket(p[1:])
	}
	s.lost(fmt.Sprintf("socket.io: unknown packet %.20q", p))
	return false
}

// sendRaw sends one Engine.IO packet the receiving goroutine makes (a
// pong), past the flow control of Write.
func (s *socketIO) sendRaw(p []byte) {
	if s.ws != nil {
		_ = wsWrite(s.ctx, s.conn, &s.wmu, s.ws, wsMsg{websocket.TextMessage, p})
		return
	}
	s.out.push(p)
}

// ioPacket handles one Socket.IO packet.
func (s *socketIO) ioPacket(p []byte) bool {
	if len(p) == 0 {
		s.lost("socket.io: empty message packet")
		return false
	}
	typ := p[0]
	rest := p[1:]
	attachments := 0
	if typ == '5' || typ == '6' {
		i := bytes.IndexByte(rest, '-')
		n, err := strconv.Atoi(string(rest[:max(i, 0)]))
		if i < 0 || err != nil || n < 0 {
			s.lost("socket.io: bad attachment count")
			return false
		}
		attachments, rest = n, rest[i+1:]
	}
	nsp := "/"
	if len(rest) > 0 && rest[0] == '/' {
		if i := bytes.IndexByte(rest, ','); i >= 0 {
			nsp, rest = string(rest[:i]), rest[i+1:]
		} else {
			nsp, rest = string(rest), nil // a namespace and nothing else
		}
	}
	if nsp != s.nsp {
		return true
	}
	for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
		rest = rest[1:] // an ack id; this client asks for no acks
	}
	switch typ {
	case '0':
		if !s.nspOpen {
			s.nspOpen = true
			s.connected <- nil
		}
		return true
	case '1':
		s.end(bytesocket.CloseError{Code: bytesocket.StatusNormalClosure, Reason: "io server disconnect"})
		return false
	case '2':
		return s.event(rest, nil)
	case '4':
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(rest, &e)
		err := fmt.Errorf("peers: socket.io connect error: %s", e.Message)
		if !s.nspOpen {
			s.connected <- err
		}
		s.lost(err.Error())
		return false
	case '5':
		if attachments == 0 {
			return s.event(rest, nil)
		}
		s.binHeader = append(s.binHeader[:0], rest...)
		s.binWant = attachments
		s.binGot = s.binGot[:0]
		return true
	case '3', '6':
		return true
	}
	s.lost(fmt.Sprintf("socket.io: unknown packet type %q", typ))
	return false
}

// binaryPacket handles one binary Engine.IO message: the next attachment
// of the binary event being received.
func (s *socketIO) binaryPacket(p []byte) bool {
	if s.binWant == 0 {
		s.lost("socket.io: binary packet without a binary event")
		return false
	}
	s.binGot = append(s.binGot, p)
	if len(s.binGot) < s.binWant {
		return true
	}
	s.binWant = 0
	return s.event(s.binHeader, s.binGot)
}

// event delivers the argument of a "message" event: a string as Text, an
// attachment as Binary, anything else as its JSON text.
func (s *socketIO) event(data []byte, attachments [][]byte) bool {
	var args []json.RawMessage
	if err := json.Unmarshal(data, &args); err != nil || len(args) == 0 {
		s.lost("socket.io: bad event")
		return false
	}
	var name string
	if json.Unmarshal(args[0], &name) != nil || name != "message" || len(args) < 2 {
		return true
	}
	arg := args[1]
	switch {
	case len(arg) > 0 && arg[0] == '"':
		var str string
		if err := json.Unmarshal(arg, &str); err != nil {
			s.lost("socket.io: bad string")
			return false
		}
		return s.deliver(bytesocket.Text, []byte(str))
	case len(arg) > 0 && arg[0] == '{':
		var ph struct {
			Placeholder bool `json:"_placeholder"`
			Num         int  `json:"num"`
		}
		if json.Unmarshal(arg, &ph) == nil && ph.Placeholder {
			if ph.Num < 0 || ph.Num >= len(attachments) {
				s.lost("socket.io: bad placeholder")
				return false
			}
			return s.deliver(bytesocket.Binary, attachments[ph.Num])
		}
	}
	return s.deliver(bytesocket.Text, append([]byte(nil), arg...))
}

// Write sends one message as the "message" event. See bytesocket.Socket.
func (s *socketIO) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	switch typ {
	case bytesocket.Text:
		if !utf8.Valid(p) {
			return bytesocket.ErrInvalidUTF8
		}
	case bytesocket.Binary:
	default:
		return errors.New("peers: unknown message type")
	}
	if err := s.writeErr(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if typ == bytesocket.Text {
		pkt := make([]byte, 0, len(p)+len(s.prefix)+16)
		pkt = append(pkt, "42"...)
		pkt = append(pkt, s.prefix...)
		pkt = append(pkt, `["message",`...)
		pkt = appendJSONString(pkt, p)
		pkt = append(pkt, ']')
		if s.ws != nil {
			return wsWrite(ctx, s.conn, &s.wmu, s.ws, wsMsg{websocket.TextMessage, pkt})
		}
		return s.out.put(ctx, s.conn, pkt)
	}
	header := []byte("451-" + s.prefix + `["message",{"_placeholder":true,"num":0}]`)
	if s.ws != nil {
		return wsWrite(ctx, s.conn, &s.wmu, s.ws,
			wsMsg{websocket.TextMessage, header}, wsMsg{websocket.BinaryMessage, p})
	}
	att := make([]byte, 1, 1+base64.StdEncoding.EncodedLen(len(p)))
	att[0] = 'b'
	att = base64.StdEncoding.AppendEncode(att, p)
	return s.out.put(ctx, s.conn, header, att)
}

// Close disconnects from the namespace and closes the Engine.IO session,
// as socket.disconnect() does: on websocket a disconnect packet and a
// close frame with code and reason; on polling a POST of the disconnect
// and close packets (in the background), after which the long-poll is
// abandoned. See bytesocket.Socket.
func (s *socketIO) Close(code bytesocket.StatusCode, reason string) error {
	if err := s.startClose(reason); err != nil {
		return err
	}
	bye := []byte("41" + s.prefix)
	if s.ws != nil {
		s.wmu.Lock()
		_ = s.ws.SetWriteDeadline(time.Now().Add(time.Second))
		_ = s.ws.WriteMessage(websocket.TextMessage, bye)
		s.wmu.Unlock()
		wsClose(s.conn, &s.wmu, s.ws, code, reason)
		s.hc.CloseIdleConnections()
		return nil
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		body := append(bye, 0x1e, '1')
		if req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.eio, bytes.NewReader(body)); err == nil {
			req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
			if resp, err := s.hc.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		s.end(bytesocket.ErrClosed("read"))
		s.hc.CloseIdleConnections()
	}()
	return nil
}
