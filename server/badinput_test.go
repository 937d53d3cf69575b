package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
	"github.com/ferrygw/ferry/wire"
)

// openSession opens an emulated session over HTTP and returns its id.
func openSession(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Post(base+"/.ferry/open", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info wire.OpenInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("open: %d %v", resp.StatusCode, err)
	}
	return info.Session
}

type badCase struct {
	name   string
	method string
	path   string // relative to the service; {sid} is a fresh session
	header map[string]string
	body   string
	status int
	reason string                // substring of the one-line body
	close  bytesocket.StatusCode // close code the handler must see, or 0
}

func TestBadInput(t *testing.T) {
	big := strings.Repeat("x", 2000)
	cases := []badCase{
		{"unknown session", "POST", "/.ferry/AAAAAAAAAAAAAAAAAAAAAA/send?seq=1", nil, "tx", 404, "session not found", 0},
		{"unknown session sse", "GET", "/.ferry/AAAAAAAAAAAAAAAAAAAAAA/sse", nil, "", 404, "session not found", 0},
		{"unknown ferry path", "GET", "/.ferry/{sid}/nope", nil, "", 404, "not found", 0},
		{"GET on send", "GET", "/.ferry/{sid}/send", nil, "", 405, "method not allowed", 0},
		{"POST on sse", "POST", "/.ferry/{sid}/sse", nil, "", 405, "method not allowed", 0},
		{"PUT on open", "PUT", "/.ferry/open", nil, "", 405, "method not allowed", 0},
		{"plain GET without upgrade", "GET", "", nil, "", 426, "expected a WebSocket upgrade", 0},
		{"malformed frame", "POST", "/.ferry/{sid}/send?seq=1", nil, "xhello\n", 400, "malformed frame", 0},
		{"bad escape", "POST", "/.ferry/{sid}/send?seq=1", nil, "thi\\q\n", 400, "malformed frame", 0},
		{"bad base64", "POST", "/.ferry/{sid}/send?seq=1", nil, "b@@@\n", 400, "malformed frame", 0},
		{"bad close code", "POST", "/.ferry/{sid}/send?seq=1", nil, "c1005\n", 400, "malformed frame", 0},
		{"missing seq", "POST", "/.ferry/{sid}/send", nil, "thi\n", 400, "missing seq", 0},
		{"seq zero", "POST", "/.ferry/{sid}/send?seq=0", nil, "thi\n", 400, "missing seq", 0},
		{"seq garbage", "POST", "/.ferry/{sid}/send?seq=1x", nil, "thi\n", 400, "missing seq", 0},
		{"seq from the future", "POST", "/.ferry/{sid}/send?seq=7", nil, "thi\n", 409, "seq gap, expected at most 1", 0},
		{"seq overflow", "POST", "/.ferry/{sid}/send?seq=99999999999999999999", nil, "thi\n", 400, "missing seq", 0},
		{"ack ahead", "POST", "/.ferry/{sid}/send?ack=5", nil, "", 400, "ack ahead", 0},
		{"ack garbage", "POST", "/.ferry/{sid}/send?ack=-1", nil, "", 400, "malformed number", 0},
		{"last garbage", "GET", "/.ferry/{sid}/sse?last=abc", nil, "", 400, "malformed number", 0},
		{"Last-Event-ID garbage", "GET", "/.ferry/{sid}/poll", map[string]string{"Last-Event-ID": "1; drop"}, "", 400, "malformed number", 0},
		{"last empty", "GET", "/.ferry/{sid}/sse?last=", nil, "", 400, "malformed number", 0},
		{"last ahead", "GET", "/.ferry/{sid}/poll?last=3", nil, "", 400, "last ahead of stream", 0},
		{"invalid UTF-8", "POST", "/.ferry/{sid}/send?seq=1", nil, "tok\nt\xff\xfe\n", 400, "not valid UTF-8", 1007},
		{"body too large", "POST", "/.ferry/{sid}/send?seq=1", nil, "t" + big + "\n", 413, "request body too large", 1009},
		{"message too large", "POST", "/.ferry/{sid}/send?seq=1", nil, "t" + big[:1100] + "\n", 413, "message too big", 1009},
		{"bad protocol list", "POST", "/.ferry/open?protocols=a%20b", nil, "", 400, "malformed subprotocol", 0},
		{"duplicate protocol", "POST", "/.ferry/open?protocols=a,a", nil, "", 400, "malformed subprotocol", 0},
		{"unsupported protocol", "POST", "/.ferry/open?protocols=nope", nil, "", 400, "no supported subprotocol", 0},
		{"refused origin", "POST", "/.ferry/open", map[string]string{"Origin": "http://evil.example"}, "", 403, "origin not allowed", 0},
		{"refused origin native", "GET", "", map[string]string{"Origin": "http://evil.example", "Connection": "Upgrade", "Upgrade": "websocket"}, "", 403, "origin not allowed", 0},
		{"ferry ws without upgrade", "GET", "/.ferry/ws", nil, "", 400, "expected a WebSocket upgrade", 0},
		{"too many frames", "POST", "/.ferry/{sid}/send?seq=1", nil, strings.Repeat("t\n", 9), 413, "too many frames", 1009},
		{"too many protocols", "POST", "/.ferry/open?protocols=" + protocolList(65, ""), nil, "", 400, "more than 64 protocols", 0},
		{"protocol offer too long", "POST", "/.ferry/open?protocols=" + protocolList(2, strings.Repeat("p", 2100)), nil, "", 400, "over 4096 bytes", 0},
		{"too many protocols native", "GET", "", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": protocolList(65, "")}, "", 400, "more than 64 protocols", 0},
		{"too many protocols ferry ws", "GET", "/.ferry/ws", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": protocolList(65, "")}, "", 400, "more than 64 protocols", 0},
		{"unknown transport", "POST", "/.ferry/open?transport=pigeon", nil, "", 400, "unknown transport", 0},
		{"unsupported version", "POST", "/.ferry/open?v=7,8", nil, "", 400, "unsupported protocol version", 0},
		{"malformed version", "POST", "/.ferry/open?v=", nil, "", 400, "malformed number", 0},
		{"unsupported version ferry ws", "GET", "/.ferry/ws?v=9", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, "", 400, "unsupported protocol version", 0},
		{"unsupported version ferry ws resume", "GET", "/.ferry/{sid}/ws?v=2", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, "", 400, "unsupported protocol version", 0},
		{"unsupported protocol native", "GET", "", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "nope"}, "", 400, "no supported subprotocol", 0},
		{"unsupported protocol ferry ws", "GET", "/.ferry/ws", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "nope"}, "", 400, "no supported subprotocol", 0},
		{"upgrade without key", "GET", "", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}, "", 400, "ferry: bad WebSocket handshake", 0},
		{"ferry ws without key", "GET", "/.ferry/ws", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}, "", 400, "ferry: bad WebSocket handshake", 0},
		{"upgrade bad version", "GET", "", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "8",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, "", 400, "ferry: bad WebSocket handshake", 0},
		{"upstream JSON", "POST", "/.ferry/{sid}/send?seq=1", map[string]string{"Content-Type": "application/json"}, "thi\n", 415, "unsupported content type", 0},
		{"GET with a body", "GET", "/.ferry/{sid}/poll", nil, "GET /healthz HTTP/1.1\r\n\r\n", 400, "body not allowed on GET", 0},
		{"GET with a body sse", "GET", "/.ferry/{sid}/sse", nil, "x", 400, "body not allowed on GET", 0},
	}
	closes := make(chan sessionClose, 100)
	g := server.NewGateway([]string{"http://good.example"}, nil)
	cfg := server.ServiceConfig{Protocols: []string{"mqtt"}, Emulation: emulation.Config{MaxMessageBytes: 1024, MaxBodyBytes: 1500, MaxBodyFrames: 8}}
	g.Handle("/svc", cfg, func(s bytesocket.Socket) {
		for {
			if _, _, err := s.Read(context.Background()); err != nil {
				closes <- sessionClose{s.(*emulation.Session).ID(), bytesocket.CloseStatus(err)}
				return
			}
		}
	})
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	ts := newServer(g)
	defer ts.Close()

	// A healthy session that must keep working while the bad requests run.
	good, err := client.Dial(context.Background(), ts.URL+"/echo", &client.Options{Transport: client.SSE})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAndWait(t, good)
	echoOnce(t, good, "before")

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := ts.URL + "/svc"
			sid := ""
			if strings.Contains(tc.path, "{sid}") {
				sid = openSession(t, base)
			}
			req, err := http.NewRequest(tc.method, base+strings.Replace(tc.path, "{sid}", sid, 1), strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if tc.method == "POST" && req.Header.Get("Content-Type") == "" {
				req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.reason) || !strings.HasPrefix(string(body), "ferry: ") {
				t.Fatalf("got %d %q, want %d with %q", resp.StatusCode, body, tc.status, tc.reason)
			}
			if tc.status == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
			if tc.close != 0 {
				waitClose(t, closes, sid, tc.close)
			}
			echoOnce(t, good, "during "+tc.name)
		})
	}
}

// protocolList returns n distinct subprotocol tokens, prefix+index,
// comma-separated.
func protocolList(n int, prefix string) string {
	l := make([]string, n)
	for i := range l {
		l[i] = prefix + strconv.Itoa(i)
	}
	return strings.Join(l, ",")
}

type sessionClose struct {
	id   string
	code bytesocket.StatusCode
}

func waitClose(t *testing.T, closes <-chan sessionClose, sid string, want bytesocket.StatusCode) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case c := <-closes:
			if c.id != sid {
				continue
			}
			if c.code != want {
				t.Fatalf("handler saw close %d, want %d", c.code, want)
			}
			return
		case <-timeout:
			t.Fatalf("handler never saw close %d", want)
		}
	}
}

// closeAndWait closes s and waits for the peer's answering close, so that
// no carrier is left open when the test server shuts down.
func closeAndWait(t testing.TB, s bytesocket.Socket) {
	t.Helper()
	if err := s.Close(bytesocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if c, ok := s.(*client.Conn); ok {
		select {
		case <-c.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("close handshake did not finish")
		}
	}
}

func echoOnce(t *testing.T, s bytesocket.Socket, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Write(ctx, bytesocket.Text, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_, p, err := s.Read(ctx)
	if err != nil || string(p) != msg {
		t.Fatalf("echo: %q, %v", p, err)
	}
}
