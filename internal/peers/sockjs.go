package peers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/gorilla/websocket"
)

// The SockJS transports DialSockJS speaks.
const (
	SockJSWebSocket   = "websocket"   // framed SockJS over RFC 6455 at .../websocket
	SockJSEventSource = "eventsource" // event stream down, xhr_send up
	SockJSXHRPolling  = "xhr-polling" // SockJS's "xhr": one frame per POST .../xhr, xhr_send up
)

// The SockJS protocol, as sockjs-node 0.3 serves it and sockjs-client 1.x
// speaks it:
//
//   - GET {prefix}/info answers JSON ({"websocket":true,...}); the client
//     asks it before opening a session.
//   - A session lives at {prefix}/{server}/{session}/{transport}: server is
//     three digits, session a random string, both chosen by the client.
//   - Everything the server sends is a frame: "o" (open), "h" (heartbeat),
//     `a["m1","m2"]` (messages, a JSON array of strings) and
//     `c[3000,"Go away!"]` (close).
//   - websocket: each frame is one text message; the client sends each
//     message as a JSON array `["m"]`.
//   - eventsource: GET .../eventsource is an event stream whose events are
//     frames ("data: <frame>\r\n\r\n") with %, CR, LF and NUL %-escaped; the
//     server ends the response after 128 KiB and the client opens the next
//     one on the same session.
//   - xhr-polling: each POST .../xhr answers one frame and a newline; the
//     client posts the next at once.
//   - Upstream on both HTTP carriers: POST .../xhr_send with the JSON array
//     of every message written since the previous POST (204 No Content).
//   - A client leaves by dropping its connection: the server ends a session
//     whose receiving request is aborted.
//
// Messages are strings: SockJS has no binary messages.

// sockJS is a SockJS session as a bytesocket.Socket.
type sockJS struct {
	*conn
	hc  *http.Client
	url string // the session's URL, without the transport

	ws  *websocket.Conn
	wmu sync.Mutex // serializes writes to ws

	streams atomic.Int32 // event streams opened, for tests
}

// DialSockJS opens a SockJS session with the server whose prefix is at
// baseURL (http, https, ws or wss, e.g. "http://127.0.0.1:9999/echo") over
// transport: "websocket", "eventsource" or "xhr-polling". The socket
// carries Text messages only (Write returns ErrTextOnly for Binary).
func DialSockJS(ctx context.Context, baseURL, transport string) (bytesocket.Socket, error) {
	switch transport {
	case SockJSWebSocket, SockJSEventSource, SockJSXHRPolling:
	default:
		return nil, fmt.Errorf("peers: unknown SockJS transport %q", transport)
	}
	u, err := httpBase(baseURL)
	if err != nil {
		return nil, err
	}
	hc := httpClient()
	if err := sockJSInfo(ctx, hc, u.String()); err != nil {
		hc.CloseIdleConnections()
		return nil, err
	}
	s := &sockJS{
		conn: newConn(transport, hostAddr(u.Host)),
		hc:   hc,
		url:  fmt.Sprintf("%s/%03d/%s", u, rand.IntN(1000), randomID(8)),
	}
	// The dial's context bounds the opening; the socket's bounds the rest.
	stop := context.AfterFunc(ctx, func() { s.lost("dial canceled") })
	defer stop()
	switch transport {
	case SockJSWebSocket:
		err = s.openWS()
	case SockJSEventSource:
		err = s.openEventSource()
	case SockJSXHRPolling:
		err = s.openPolling()
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

// sockJSInfo asks the server's info, as sockjs-client does first.
func sockJSInfo(ctx context.Context, hc *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/info", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("peers: sockjs info: %w", err)
	}
	defer resp.Body.Close()
	var info struct {
		WebSocket bool `json:"websocket"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("peers: sockjs info: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return fmt.Errorf("peers: sockjs info: %w", err)
	}
	return nil
}

func (s *sockJS) openWS() error {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.DialContext(s.ctx, wsScheme(s.url)+"/websocket", nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("peers: sockjs websocket: %s", resp.Status)
		}
		return fmt.Errorf("peers: sockjs websocket: %w", err)
	}
	s.ws = c
	s.remote = c.RemoteAddr()
	context.AfterFunc(s.ctx, func() { _ = c.Close() })
	_, f, err := c.ReadMessage()
	if err != nil {
		return fmt.Errorf("peers: sockjs websocket: %w", err)
	}
	if string(f) != "o" {
		return fmt.Errorf("peers: sockjs websocket: first frame %.20q, want \"o\"", f)
	}
	go s.wsLoop()
	return nil
}

func (s *sockJS) wsLoop() {
	for {
		_, f, err := s.ws.ReadMessage()
		if err != nil {
			s.lost("websocket: " + err.Error())
			return
		}
		if !s.frame(f) {
			return
		}
	}
}

func (s *sockJS) openEventSource() error {
	resp, err := s.request(http.MethodGet, "/eventsource", nil)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	f, err := nextEvent(br)
	if err != nil {
		resp.Body.Close()
		return fmt.Errorf("peers: sockjs eventsource: %w", err)
	}
	if string(f) != "o" {
		resp.Body.Close()
		return fmt.Errorf("peers: sockjs eventsource: first frame %.20q, want \"o\"", f)
	}
	go s.eventSourceLoop(resp, br)
	go s.sendLoop()
	return nil
}

// eventSourceLoop reads event streams, opening the next whenever the
// server ends one.
func (s *sockJS) eventSourceLoop(resp *http.Response, br *bufio.Reader) {
	for {
		for {
			f, err := nextEvent(br)
			if err == io.EOF {
				break
			}
			if err != nil {
				resp.Body.Close()
				s.lost("eventsource: " + err.Error())
				return
			}
			if string(f) == "o" {
				// A second open means the session was gone and the server
				// started a new one.
				resp.Body.Close()
				s.lost("sockjs: session restarted")
				return
			}
			if !s.frame(f) {
				resp.Body.Close()
				return
			}
		}
		resp.Body.Close()
		var err error
		if resp, err = s.request(http.MethodGet, "/eventsource", nil); err != nil {
			s.lost(err.Error())
			return
		}
		br.Reset(resp.Body)
	}
}

// nextEvent returns the data of the next event of an event stream,
// unescaped, or io.EOF at its end. SockJS events have one data line.
func nextEvent(br *bufio.Reader) ([]byte, error) {
	for {
		line, err := readLine(br)
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			return unescapePercent(data), nil
		}
		// Blank lines end events; SockJS sends no other field.
	}
}

// readLine returns the next line without its CR LF or LF; the slice is
// valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		return line, err
	}
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// unescapePercent undoes SockJS's escaping of %, CR, LF and NUL in event
// stream data (%25, %0D, %0A, %00).
func unescapePercent(p []byte) []byte {
	i := bytes.IndexByte(p, '%')
	if i < 0 {
		return p
	}
	out := append([]byte(nil), p[:i]...)
	for ; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			out = append(out, unhex(p[i+1])<<4|unhex(p[i+2]))
			i += 2
			continue
		}
		out = append(out, p[i])
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func (s *sockJS) openPolling() error {
	f, err := s.poll()
	if err != nil {
		return err
	}
	if string(f) != "o" {
		return fmt.Errorf("peers: sockjs xhr: first frame %.20q, want \"o\"", f)
	}
	go s.pollLoop()
	go s.sendLoop()
	return nil
}

// poll makes one POST .../xhr and returns the frame it answers.
func (s *sockJS) poll() ([]byte, error) {
	resp, err := s.request(http.MethodPost, "/xhr", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("peers: sockjs xhr: %w", err)
	}
	f, ok := bytes.CutSuffix(body, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("peers: sockjs xhr: response %.20q not a frame", body)
	}
	return f, nil
}

func (s *sockJS) pollLoop() {
	for {
		f, err := s.poll()
		if err != nil {
			s.lost(err.Error())
			return
		}
		if string(f) == "o" {
			s.lost("sockjs: session restarted")
			return
		}
		if !s.frame(f) {
			return
		}
	}
}

// sendLoop posts what Write queued, every message written while a POST
// was in flight in the next one.
func (s *sockJS) sendLoop() {
	var body []byte
	for {
		select {
		case <-s.out.wake:
		case <-s.ctx.Done():
			return
		}
		items := s.out.take(0)
		if len(items) == 0 {
			continue
		}
		body = append(body[:0], '[')
		for i, it := range items {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, it...)
		}
		body = append(body, ']')
		resp, err := s.request(http.MethodPost, "/xhr_send", body)
		if err != nil {
			s.lost(err.Error())
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// request makes one request on the session and checks its status.
func (s *sockJS) request(method, path string, body []byte) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(s.ctx, method, s.url+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("peers: sockjs %s: %w", path, err)
	}
	if path == "/eventsource" {
		s.streams.Add(1)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		resp.Body.Close()
		return nil, fmt.Errorf("peers: sockjs %s: %s", path, resp.Status)
	}
	return resp, nil
}

// frame handles one frame from the server; it reports false once the
// session has ended.
func (s *sockJS) frame(f []byte) bool {
	if len(f) == 0 {
		s.lost("sockjs: empty frame")
		return false
	}
	switch f[0] {
	case 'h', 'o':
		return true
	case 'a':
		var msgs []string
		if err := json.Unmarshal(f[1:], &msgs); err != nil {
			s.lost("sockjs: bad message frame: " + err.Error())
			return false
		}
		for _, m := range msgs {
			if !s.deliver(bytesocket.Text, []byte(m)) {
				return false
			}
		}
		return true
	case 'c':
		var c [2]any
		code, reason := bytesocket.StatusNoStatusRcvd, ""
		if json.Unmarshal(f[1:], &c) == nil {
			if n, ok := c[0].(float64); ok {
				code = bytesocket.StatusCode(n)
			}
			reason, _ = c[1].(string)
		}
		s.end(bytesocket.CloseError{Code: code, Reason: reason})
		return false
	}
	s.lost(fmt.Sprintf("sockjs: unknown frame %.20q", f))
	return false
}

// Write sends one Text message. See bytesocket.Socket.
func (s *sockJS) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	switch typ {
	case bytesocket.Text:
	case bytesocket.Binary:
		return ErrTextOnly
	default:
		return errors.New("peers: unknown message type")
	}
	if !utf8.Valid(p) {
		return bytesocket.ErrInvalidUTF8
	}
	if err := s.writeErr(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.ws == nil {
		return s.out.put(ctx, s.conn, appendJSONString(nil, p))
	}
	frame := appendJSONString([]byte{'['}, p)
	frame = append(frame, ']')
	return wsWrite(ctx, s.conn, &s.wmu, s.ws, wsMsg{websocket.TextMessage, frame})
}

// Close ends the session. On the websocket carrier it sends a close frame
// with code and reason; on the HTTP carriers it aborts the requests in
// flight, which is how sockjs-client leaves (the server ends a session
// whose receiving request is aborted). See bytesocket.Socket.
func (s *sockJS) Close(code bytesocket.StatusCode, reason string) error {
	if err := s.startClose(reason); err != nil {
		return err
	}
	if s.ws != nil {
		wsClose(s.conn, &s.wmu, s.ws, code, reason)
	} else {
		s.end(bytesocket.ErrClosed("read"))
	}
	s.hc.CloseIdleConnections()
	return nil
}

// randomID returns n random letters and digits.
func randomID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// httpBase parses a base URL into its http(s) form, without query,
// fragment or trailing slash.
func httpBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return nil, fmt.Errorf("peers: unsupported scheme %q", u.Scheme)
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// wsScheme turns an http(s) URL string into its ws(s) form.
func wsScheme(u string) string {
	return "ws" + strings.TrimPrefix(u, "http")
}

// appendJSONString appends p, valid UTF-8, as a JSON string. Unlike
// encoding/json it escapes no HTML characters, as JSON.stringify does not.
func appendJSONString(dst, p []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, p[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, p[start:]...)
	return append(dst, '"')
}
