package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
)

// peersDir holds the Node peer servers and their node_modules.
const peersDir = "../../bench/peers"

// peer is one running Node server, started on first use and stopped by
// TestMain.
type peer struct {
	script string
	once   sync.Once
	url    string // http://127.0.0.1:PORT
	stop   func() // kills it; nil if it did not start
	err    error
}

var (
	sockjsPeer   = &peer{script: "sockjs-server.js"}
	socketioPeer = &peer{script: "socketio-server.js"}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range []*peer{sockjsPeer, socketioPeer} {
		if p.stop != nil {
			p.stop()
		}
	}
	os.Exit(code)
}

// start returns the base URL of the running peer, or skips the test when
// node or the installed peers are missing (fails it when CI=true: CI
// installs them).
func (p *peer) start(t *testing.T) string {
	t.Helper()
	skip := t.Skip
	if os.Getenv("CI") == "true" {
		skip = t.Fatal
	}
	if _, err := exec.LookPath("node"); err != nil {
		skip("node not installed; the peer servers need it")
	}
	if _, err := os.Stat(filepath.Join(peersDir, "node_modules")); err != nil {
		skip("bench/peers/node_modules missing: run `npm ci` in bench/peers (.ci/install-deps and bench/run.sh do)")
	}
	p.once.Do(func() {
		// Heartbeats every 100 ms, so that every test sees some.
		p.url, p.stop, p.err = StartServer(context.Background(), peersDir, p.script, "PUBLISH_SECRET=test-secret",
			"HEARTBEAT_MS=100", "PING_INTERVAL_MS=100", "PING_TIMEOUT_MS=5000")
	})
	if p.err != nil {
		t.Fatal(p.err)
	}
	return p.url
}

type dialFunc func(ctx context.Context, baseURL, transport string) (bytesocket.Socket, error)

type target struct {
	name       string
	peer       *peer
	dial       dialFunc
	transports []string
	binary     bool
}

var targets = []target{
	{"sockjs", sockjsPeer, DialSockJS, []string{SockJSWebSocket, SockJSEventSource, SockJSXHRPolling}, false},
	{"socketio", socketioPeer, DialSocketIO, []string{SocketIOWebSocket, SocketIOPolling}, true},
}

// eachTransport runs fn for every peer and transport, in parallel.
func eachTransport(t *testing.T, fn func(t *testing.T, ctx context.Context, tg target, base, transport string)) {
	for _, tg := range targets {
		for _, tr := range tg.transports {
			t.Run(tg.name+"/"+tr, func(t *testing.T) {
				base := tg.peer.start(t)
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				fn(t, ctx, tg, base, tr)
			})
		}
	}
}

// payload returns message i of the echo test: text with characters every
// layer escapes (quotes, backslashes, CR LF, NUL, %, U+2028, astral), or
// for even i on a binary-capable peer, bytes of every value.
func payload(i int, binary bool) (bytesocket.MessageType, []byte) {
	if binary && i%2 == 0 {
		p := make([]byte, i%300)
		for j := range p {
			p[j] = byte(i + j)
		}
		return bytesocket.Binary, p
	}
	switch i % 5 {
	case 0:
		return bytesocket.Text, []byte(strconv.Itoa(i))
	case 1:
		return bytesocket.Text, []byte(fmt.Sprintf("%d \"q\" \\ \r\n\x00 %%25 %%0A\u2028\u2029 😀 <&> \t\x1e", i))
	case 2:
		return bytesocket.Text, []byte(strings.Repeat("x", i))
	case 3:
		return bytesocket.Text, []byte("")
	}
	return bytesocket.Text, []byte(fmt.Sprintf("%d é ü ☃ \ufeff \uffff", i))
}

func TestEcho(t *testing.T) {
	eachTransport(t, func(t *testing.T, ctx context.Context, tg target, base, transport string) {
		s, err := tg.dial(ctx, base+"/echo", transport)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(bytesocket.StatusNormalClosure, "")
		if s.Transport() != transport {
			t.Errorf("Transport() = %q, want %q", s.Transport(), transport)
		}
		if s.RemoteAddr() == nil || s.Header() == nil || s.Subprotocol() != "" {
			t.Errorf("accessors: %v %v %q", s.RemoteAddr(), s.Header(), s.Subprotocol())
		}
		const n = 1000
		werr := make(chan error, 1)
		go func() {
			for i := range n {
				typ, p := payload(i, tg.binary)
				if err := s.Write(ctx, typ, p); err != nil {
					werr <- fmt.Errorf("write %d: %w", i, err)
					return
				}
			}
			werr <- nil
		}()
		for i := range n {
			typ, p, err := s.Read(ctx)
			if err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
			wtyp, want := payload(i, tg.binary)
			if typ != wtyp || !bytes.Equal(p, want) {
				t.Fatalf("message %d: got %v %.60q, want %v %.60q", i, typ, p, wtyp, want)
			}
		}
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
	})
}

func TestDown(t *testing.T) {
	eachTransport(t, func(t *testing.T, ctx context.Context, tg target, base, transport string) {
		s, err := tg.dial(ctx, base+"/bench", transport)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(bytesocket.StatusNormalClosure, "")
		const n, size = 3000, 64
		if err := s.Write(ctx, bytesocket.Text, fmt.Appendf(nil, "down %d %d", n, size)); err != nil {
			t.Fatal(err)
		}
		wantTyp := bytesocket.Text
		if tg.binary {
			wantTyp = bytesocket.Binary
		}
		for i := range n {
			typ, p, err := s.Read(ctx)
			if err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
			if typ != wantTyp || len(p) != size {
				t.Fatalf("message %d: %v of %d bytes, want %v of %d", i, typ, len(p), wantTyp, size)
			}
		}
		typ, p, err := s.Read(ctx)
		if err != nil || typ != bytesocket.Text || string(p) != "done" {
			t.Fatalf("after the burst: %v %q %v, want text \"done\"", typ, p, err)
		}
		// The burst is over SockJS's 128 KiB response limit: the event
		// stream was renewed.
		if sj, ok := s.(*sockJS); ok && transport == SockJSEventSource && sj.streams.Load() < 2 {
			t.Errorf("%d event streams, want a renewal", sj.streams.Load())
		}
	})
}

// publish posts one message to the peer's broadcast and returns how many
// subscribers it reached.
func publish(ctx context.Context, base, contentType string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/publish/broadcast", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer test-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("publish: %s %s", resp.Status, out)
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}

func TestBroadcast(t *testing.T) {
	eachTransport(t, func(t *testing.T, ctx context.Context, tg target, base, transport string) {
		const subs, msgs = 5, 50
		var sockets []bytesocket.Socket
		for range subs {
			s, err := tg.dial(ctx, base+"/broadcast", transport)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(bytesocket.StatusNormalClosure, "")
			sockets = append(sockets, s)
		}
		// The servers count subscribers; wait until all of ours are
		// registered and the previous subtest's have left. Subscribers
		// skip "sync".
		for {
			n, err := publish(ctx, base, "text/plain", []byte("sync"))
			if err != nil {
				t.Fatal(err)
			}
			if n == subs {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The unauthenticated publish is refused.
		if resp, err := http.Post(base+"/publish/broadcast", "text/plain", strings.NewReader("x")); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("publish without the secret: %v %v, want 401", resp, err)
		} else {
			resp.Body.Close()
		}
		for i := range msgs {
			ct := "text/plain"
			if tg.binary && i%2 == 1 {
				ct = "application/octet-stream"
			}
			if _, err := publish(ctx, base, ct, fmt.Appendf(nil, "msg %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		for k, s := range sockets {
			for i := 0; i < msgs; {
				typ, p, err := s.Read(ctx)
				if err != nil {
					t.Fatalf("subscriber %d, message %d: %v", k, i, err)
				}
				if string(p) == "sync" {
					continue
				}
				wantTyp := bytesocket.Text
				if tg.binary && i%2 == 1 {
					wantTyp = bytesocket.Binary
				}
				if want := fmt.Sprintf("msg %d", i); typ != wantTyp || string(p) != want {
					t.Fatalf("subscriber %d: got %v %q, want %v %q", k, typ, p, wantTyp, want)
				}
				i++
			}
		}
	})
}

func TestClose(t *testing.T) {
	eachTransport(t, func(t *testing.T, ctx context.Context, tg target, base, transport string) {
		s, err := tg.dial(ctx, base+"/echo", transport)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(bytesocket.StatusCode(1000), strings.Repeat("r", 124)); !errors.Is(err, bytesocket.ErrReasonTooLong) {
			t.Errorf("Close with a long reason: %v", err)
		}
		if err := s.Write(ctx, bytesocket.Text, []byte("\xff")); !errors.Is(err, bytesocket.ErrInvalidUTF8) {
			t.Errorf("Write of invalid UTF-8: %v", err)
		}
		if !tg.binary {
			if err := s.Write(ctx, bytesocket.Binary, []byte{1}); !errors.Is(err, ErrTextOnly) {
				t.Errorf("Write of binary on SockJS: %v", err)
			}
		}
		if err := s.Close(bytesocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(bytesocket.StatusNormalClosure, "bye"); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
		if _, _, err := s.Read(ctx); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read after Close: %v", err)
		}
		if err := s.Write(ctx, bytesocket.Text, []byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close: %v", err)
		}
	})
}

func TestReadCancel(t *testing.T) {
	eachTransport(t, func(t *testing.T, ctx context.Context, tg target, base, transport string) {
		s, err := tg.dial(ctx, base+"/echo", transport)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(bytesocket.StatusNormalClosure, "")
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, _, err := s.Read(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Read with nothing sent: %v", err)
		}
		if err := s.Write(ctx, bytesocket.Text, []byte("after")); err != nil {
			t.Fatal(err)
		}
		if _, p, err := s.Read(ctx); err != nil || string(p) != "after" {
			t.Fatalf("Read after a canceled Read: %q %v", p, err)
		}
	})
}

// TestIdle checks that heartbeats (SockJS "h" frames and WebSocket pings,
// Engine.IO pings) are answered or skipped: the servers ping every 100 ms
// and Socket.IO's drops a client that has not answered within 300 ms.
func TestIdle(t *testing.T) {
	eachTransport(t, func(t *testing.T, ctx context.Context, tg target, base, transport string) {
		s, err := tg.dial(ctx, base+"/echo", transport)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(bytesocket.StatusNormalClosure, "")
		idle, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, _, err := s.Read(idle); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("idle Read: %v", err)
		}
		if err := s.Write(ctx, bytesocket.Text, []byte("still here")); err != nil {
			t.Fatal(err)
		}
		if _, p, err := s.Read(ctx); err != nil || string(p) != "still here" {
			t.Fatalf("echo after idling: %q %v", p, err)
		}
	})
}

func TestDialErrors(t *testing.T) {
	ctx := t.Context()
	if _, err := DialSockJS(ctx, "http://127.0.0.1:1/echo", "jsonp"); err == nil {
		t.Error("DialSockJS accepted transport jsonp")
	}
	if _, err := DialSocketIO(ctx, "http://127.0.0.1:1/echo", "eventsource"); err == nil {
		t.Error("DialSocketIO accepted transport eventsource")
	}
	if _, err := DialSockJS(ctx, "ftp://127.0.0.1:1/echo", "websocket"); err == nil {
		t.Error("DialSockJS accepted scheme ftp")
	}
	// Nothing listens on port 1.
	if _, err := DialSockJS(ctx, "http://127.0.0.1:1/echo", "websocket"); err == nil {
		t.Error("DialSockJS to a closed port succeeded")
	}
	if _, err := DialSocketIO(ctx, "http://127.0.0.1:1/echo", "polling"); err == nil {
		t.Error("DialSocketIO to a closed port succeeded")
	}
}

func TestSocketIOUnknownNamespace(t *testing.T) {
	base := socketioPeer.start(t)
	for _, tr := range []string{SocketIOWebSocket, SocketIOPolling} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := DialSocketIO(ctx, base+"/nowhere", tr)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "connect error") {
			t.Errorf("%s: dial to an unknown namespace: %v", tr, err)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "\"\\/", "\x00\x01\x1f\x7f", "\r\n\t", "<&>", "\u2028 😀 é", "\ufeff\uffff"} {
		q := appendJSONString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(q, &back); err != nil || back != s {
			t.Errorf("%q: encoded %s, decoded %q, %v", s, q, back, err)
		}
	}
}

func TestUnescapePercent(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"a[\"x\"]":         "a[\"x\"]",
		"a[\"%25\"]":       "a[\"%\"]",
		"%0D%0A%00%25%2":   "\r\n\x00%%2",
		"%zz %25%2525 end": "%zz %%25 end",
	} {
		if got := string(unescapePercent([]byte(in))); got != want {
			t.Errorf("unescapePercent(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOutboxTake(t *testing.T) {
	c := newConn("test", namedAddr("x"))
	defer c.end(nil)
	for _, s := range []string{"aaaa", "bb", "cccccc", "d"} {
		if err := c.out.put(context.Background(), c, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for {
		items := c.out.take(6)
		if len(items) == 0 {
			break
		}
		got = append(got, string(bytes.Join(items, []byte("+"))))
	}
	if want := "aaaa+bb|cccccc|d"; strings.Join(got, "|") != want {
		t.Errorf("batches %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestTextOnly(t *testing.T) {
	base := sockjsPeer.start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	raw, err := DialSockJS(ctx, base+"/bench", SockJSWebSocket)
	if err != nil {
		t.Fatal(err)
	}
	s := TextOnly(raw, func(p []byte) bool { return string(p) == "done" })
	defer s.Close(bytesocket.StatusNormalClosure, "")
	if err := s.Write(ctx, bytesocket.Binary, []byte{0xff}); !errors.Is(err, ErrTextOnly) {
		t.Errorf("Write of non-UTF-8 binary: %v", err)
	}
	if err := s.Write(ctx, bytesocket.Binary, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if typ, p, err := s.Read(ctx); err != nil || typ != bytesocket.Binary || string(p) != "abc" {
		t.Fatalf("echo: %v %q %v, want binary \"abc\"", typ, p, err)
	}
	if err := s.Write(ctx, bytesocket.Text, []byte("down 1 3")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		typ bytesocket.MessageType
		p   string
	}{{bytesocket.Binary, "xxx"}, {bytesocket.Text, "done"}} {
		if typ, p, err := s.Read(ctx); err != nil || typ != want.typ || string(p) != want.p {
			t.Fatalf("down: %v %q %v, want %v %q", typ, p, err, want.typ, want.p)
		}
	}
}

func TestUp(t *testing.T) {
	eachTransport(t, func(t *testing.T, ctx context.Context, tg target, base, transport string) {
		s, err := tg.dial(ctx, base+"/bench", transport)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(bytesocket.StatusNormalClosure, "")
		for _, tt := range []struct {
			cmd  string
			send int
			end  bool
		}{{"up", 500, true}, {"up 7", 7, false}} {
			if err := s.Write(ctx, bytesocket.Text, []byte(tt.cmd)); err != nil {
				t.Fatal(err)
			}
			for i := range tt.send {
				typ, p := payload(i, tg.binary)
				if err := s.Write(ctx, typ, p); err != nil {
					t.Fatal(err)
				}
			}
			if tt.end {
				if err := s.Write(ctx, bytesocket.Text, []byte("end")); err != nil {
					t.Fatal(err)
				}
			}
			want := fmt.Sprintf("got %d", tt.send)
			if _, p, err := s.Read(ctx); err != nil || string(p) != want {
				t.Fatalf("%s: %q %v, want %q", tt.cmd, p, err, want)
			}
		}
	})
}

func TestCloseFromServer(t *testing.T) {
	eachTransport(t, func(t *testing.T, ctx context.Context, tg target, base, transport string) {
		s, err := tg.dial(ctx, base+"/bench", transport)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(bytesocket.StatusNormalClosure, "")
		cmd, want := "close 4001 server says bye", bytesocket.CloseError{Code: 4001, Reason: "server says bye"}
		if tg.name == "socketio" {
			cmd, want = "close", bytesocket.CloseError{Code: bytesocket.StatusNormalClosure, Reason: "io server disconnect"}
		}
		if err := s.Write(ctx, bytesocket.Text, []byte("before")); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, bytesocket.Text, []byte(cmd)); err != nil {
			t.Fatal(err)
		}
		if _, p, err := s.Read(ctx); err != nil || string(p) != "before" {
			t.Fatalf("message before the close: %q %v", p, err)
		}
		_, _, err = s.Read(ctx)
		var ce bytesocket.CloseError
		if !errors.As(err, &ce) || ce != want {
			t.Fatalf("Read after the server's close: %v, want %v", err, want)
		}
		if err := s.Write(ctx, bytesocket.Text, []byte("x")); !errors.As(err, &ce) {
			t.Errorf("Write after the server's close: %v, want the CloseError", err)
		}
	})
}
