package server_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/server"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// rawWS is a WebSocket client over loopback that writes hand-made frames,
// masked as RFC 6455 requires of a client, and never answers pings.
type rawWS struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialRawWS(t *testing.T, ts *httptest.Server, path string) *rawWS {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	c := &rawWS{conn: conn, br: bufio.NewReader(conn)}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade %s: %d", path, resp.StatusCode)
	}
	return c
}

func (c *rawWS) write(t *testing.T, op byte, payload []byte) {
	t.Helper()
	key := [4]byte{0xa1, 0x02, 0x7c, 0xe4}
	f := append([]byte{0x80 | op, 0x80 | byte(len(payload))}, key[:]...) // payload <= 125
	for i, b := range payload {
		f = append(f, b^key[i&3])
	}
	if _, err := c.conn.Write(f); err != nil {
		t.Fatal(err)
	}
}

// read returns the next frame from the server.
func (c *rawWS) read() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		_, err = io.ReadFull(c.br, ext[:])
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		_, err = io.ReadFull(c.br, ext[:])
		n = binary.BigEndian.Uint64(ext[:])
	}
	if err != nil {
		return 0, nil, err
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(c.br, payload)
	return h[0] & 0x0f, payload, err
}

// readClose reads frames until the server's close frame and returns its
// code (1005 for an empty close).
func (c *rawWS) readClose(t *testing.T) bytesocket.StatusCode {
	t.Helper()
	for {
		op, p, err := c.read()
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		if op == websocket.CloseMessage {
			if len(p) < 2 {
				return bytesocket.StatusNoStatusRcvd
			}
			return bytesocket.StatusCode(binary.BigEndian.Uint16(p))
		}
	}
}

// readUntilDropped reads frames until the connection ends and returns the
// number of pings, failing if a close frame arrives first.
func (c *rawWS) readUntilDropped(t *testing.T) int {
	t.Helper()
	pings := 0
	for {
		op, _, err := c.read()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("still open after %d pings", pings)
			}
			return pings
		}
		switch op {
		case websocket.PingMessage:
			pings++
		case websocket.CloseMessage:
			t.Fatal("closed with a close frame; want the connection dropped")
		}
	}
}

// openInfo reads a Ferry WebSocket's first message, the "o" frame.
func (c *rawWS) openInfo(t *testing.T) wire.OpenInfo {
	t.Helper()
	_, p, err := c.read()
	if err != nil || len(p) < 2 || p[0] != 1 || p[1] != 'o' {
		t.Fatalf("first message %q, %v; want an o frame", p, err)
	}
	var info wire.OpenInfo
	if err := json.Unmarshal(p[2:], &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// guardCloseCases are close frames gorilla/websocket answers wrongly by
// itself, with the code of the server's answer (RFC 6455 §5.5.1, §7.4).
var guardCloseCases = []struct {
	name    string
	payload []byte
	want    bytesocket.StatusCode
}{
	{"one byte", []byte{0x03}, bytesocket.StatusProtocolError},
	{"code 1005", closePayload(1005, ""), bytesocket.StatusProtocolError},
	{"code 1006", closePayload(1006, ""), bytesocket.StatusProtocolError},
	{"code 999", closePayload(999, ""), bytesocket.StatusProtocolError},
	{"code 5000", closePayload(5000, ""), bytesocket.StatusProtocolError},
	{"bad UTF-8 reason", closePayload(1000, "\xff"), bytesocket.StatusInvalidFramePayload},
	{"code 1014", closePayload(1014, "upstream"), bytesocket.StatusBadGateway},
	{"normal", closePayload(1000, "bye"), bytesocket.StatusNormalClosure},
	{"empty", nil, bytesocket.StatusNoStatusRcvd},
}

// readErrors is a handler that reads until its socket fails and sends
// the error.
func readErrors(errs chan<- error) func(bytesocket.Socket) {
	return func(s bytesocket.Socket) {
		for {
			if _, _, err := s.Read(context.Background()); err != nil {
				errs <- err
				return
			}
		}
	}
}

func wantClose(t *testing.T, errs <-chan error, want bytesocket.StatusCode) {
	t.Helper()
	select {
	case err := <-errs:
		if got := bytesocket.CloseStatus(err); got != want {
			t.Errorf("handler read %v; want close %d", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("handler read nothing; want close %d", want)
	}
}

// TestNativeCloseFrames sends close frames by hand on a plain WebSocket:
// the server answers each with the code RFC 6455 requires and the handler
// reads the same code.
func TestNativeCloseFrames(t *testing.T) {
	errs := make(chan error, 1)
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{}, readErrors(errs))
	ts := newServer(g)
	defer ts.Close()
	for _, tc := range guardCloseCases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRawWS(t, ts, "/svc")
			c.write(t, websocket.CloseMessage, tc.payload)
			if got := c.readClose(t); got != tc.want {
				t.Errorf("server answered %d; want %d", got, tc.want)
			}
			wantClose(t, errs, tc.want)
		})
	}
}

// TestFerryWSCloseFrames sends close frames by hand on a Ferry WebSocket:
// the server answers each with the code RFC 6455 requires, and the session
// outlives the connection (a WebSocket close is the loss of a carrier).
func TestFerryWSCloseFrames(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{}, server.Echo)
	ts := newServer(g)
	defer ts.Close()
	for _, tc := range guardCloseCases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRawWS(t, ts, "/svc/.ferry/ws")
			sid := c.openInfo(t).Session
			c.write(t, websocket.CloseMessage, tc.payload)
			if got := c.readClose(t); got != tc.want {
				t.Errorf("server answered %d; want %d", got, tc.want)
			}
			resumeEcho(t, ts, sid)
		})
	}
}

// resumeEcho resumes session sid of an echo service over a new Ferry
// WebSocket and checks that a message comes back.
func resumeEcho(t *testing.T, ts *httptest.Server, sid string) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/svc/.ferry/" + sid + "/ws?last=0"
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("resume: %v (%d)", err, status)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, p, err := conn.ReadMessage(); err != nil || len(p) < 2 || p[1] != 'o' {
		t.Fatalf("resume: first message %q, %v", p, err)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("again")); err != nil {
		t.Fatal(err)
	}
	for {
		typ, p, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("resume: no echo: %v", err)
		}
		if typ == websocket.TextMessage {
			if string(p) != "again" {
				t.Fatalf("resume: echo %q", p)
			}
			return
		}
	}
}

// TestNativeKeepAlive: a plain WebSocket peer that never answers pings is
// pinged and then dropped (1006 to the handler) after about two
// heartbeats. The timing is tested in internal/wsnative with synctest.
func TestNativeKeepAlive(t *testing.T) {
	errs := make(chan error, 1)
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{Emulation: fastHeartbeat}, readErrors(errs))
	ts := newServer(g)
	defer ts.Close()
	c := dialRawWS(t, ts, "/svc")
	if pings := c.readUntilDropped(t); pings == 0 {
		t.Error("dropped without a ping")
	}
	wantClose(t, errs, bytesocket.StatusAbnormalClosure)
}

// TestFerryWSKeepAlive: a Ferry WebSocket whose client never answers
// pings is pinged and then dropped; the session waits and resumes.
func TestFerryWSKeepAlive(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{Emulation: fastHeartbeat}, server.Echo)
	ts := newServer(g)
	defer ts.Close()
	c := dialRawWS(t, ts, "/svc/.ferry/ws")
	sid := c.openInfo(t).Session
	if pings := c.readUntilDropped(t); pings == 0 {
		t.Error("dropped without a ping")
	}
	resumeEcho(t, ts, sid)
}
