package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// downFrames reads a session's downstream over carrier ("sse" or "poll")
// from after last until a close frame, and returns every frame's text
// form in order.
func downFrames(t *testing.T, base, sid, carrier string) []string {
	t.Helper()
	var frames []string
	last := "0"
	for range 50 {
		resp, err := http.Get(base + "/.ferry/" + sid + "/" + carrier + "?last=" + last)
		if err != nil {
			t.Fatal(err)
		}
		d := wire.NewEventDecoder(resp.Body)
		for {
			ev, err := d.Next()
			if err != nil {
				break
			}
			for _, f := range strings.Split(string(ev.Data), "\n") {
				if f == "" || strings.IndexByte("toah", f[0]) >= 0 && f[0] != 't' {
					continue // control frames
				}
				frames = append(frames, f)
				last = ev.ID
				if f[0] == 'c' {
					resp.Body.Close()
					return frames
				}
			}
		}
		resp.Body.Close()
	}
	t.Fatalf("no close after %q", frames)
	return nil
}

func postSend(t *testing.T, base, sid, query, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(base+"/.ferry/"+sid+"/send?"+query, "text/plain;charset=UTF-8", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMessagesBeforeClose checks that what a client sends just before its
// close, or before the frame that makes the server close, reaches the
// handler in order, and that the handler's replies reach the client before
// the server's close — on every carrier, as over a native WebSocket.
func TestMessagesBeforeClose(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{Emulation: emulation.Config{MaxMessageBytes: 100}}, server.Echo)
	ts := newServer(g)
	defer ts.Close()
	base := ts.URL + "/echo"
	cases := []struct {
		name, body string
		status     int
		want       []string
	}{
		{"close", "tbefore\ntsecond\nc4001 bye", 200, []string{"tbefore", "tsecond", "c4001 bye"}},
		{"invalid UTF-8", "tbefore\nt\xff", 400, []string{"tbefore", "c1007 invalid UTF-8 in text message"}},
		{"too big", "tbefore\nt" + strings.Repeat("x", 101), 413, []string{"tbefore", "c1009 message too big"}},
	}
	for _, carrier := range []string{"sse", "poll"} {
		for _, tc := range cases {
			t.Run(carrier+"/"+tc.name, func(t *testing.T) {
				sid := openSession(t, base)
				if status, _ := postSend(t, base, sid, "seq=1", tc.body); status != tc.status {
					t.Fatalf("POST: %d, want %d", status, tc.status)
				}
				if got := downFrames(t, base, sid, carrier); fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("downstream %q, want %q", got, tc.want)
				}
			})
		}
	}
	wsCases := []struct {
		name string
		send func(c *websocket.Conn) error
		want []string
	}{
		{"close", func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, []byte("\x01c4001 bye"))
		}, []string{"tbefore", "c4001 bye"}},
		{"too big", func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 101))
		}, []string{"tbefore", "c1009 message too big"}},
	}
	for _, tc := range wsCases {
		t.Run("websocket/"+tc.name, func(t *testing.T) {
			c := dialFerryWS(t, ts, "/echo/.ferry/ws")
			defer c.Close()
			if err := c.WriteMessage(websocket.TextMessage, []byte("before")); err != nil {
				t.Fatal(err)
			}
			if err := tc.send(c); err != nil {
				t.Fatal(err)
			}
			if got := wsFrames(t, c); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("downstream %q, want %q", got, tc.want)
			}
		})
	}
}

// dialFerryWS opens a Ferry WebSocket and reads its "o" frame.
func dialFerryWS(t *testing.T, ts *httptest.Server, path string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", path, err, resp)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || !bytes.HasPrefix(p, []byte("\x01o{")) {
		t.Fatalf("first message %q, %v; want the o frame", p, err)
	}
	return c
}

// wsFrames reads sequenced frames from a Ferry WebSocket until a close
// frame, in text form.
func wsFrames(t *testing.T, c *websocket.Conn) []string {
	t.Helper()
	var frames []string
	for {
		typ, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %q: %v", frames, err)
		}
		switch {
		case typ == websocket.TextMessage:
			frames = append(frames, "t"+string(p))
		case len(p) > 1 && p[0] == 1 && p[1] == 'c':
			return append(frames, string(p[1:]))
		}
	}
}

// TestResumeOutsideWindow checks the one shape every carrier answers a
// resume outside the retention window with: its usual response holding
// only "c4010 resume outside retention window", numbered last+1, and the
// handler sees 4010.
func TestResumeOutsideWindow(t *testing.T) {
	closes := make(chan sessionClose, 3)
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{}, func(s bytesocket.Socket) {
		for _, m := range []string{"a", "b", "c"} {
			_ = s.Write(context.Background(), bytesocket.Text, []byte(m))
		}
		_, _, err := s.Read(context.Background())
		closes <- sessionClose{s.(*emulation.Session).ID(), bytesocket.CloseStatus(err)}
	})
	ts := newServer(g)
	defer ts.Close()
	base := ts.URL + "/svc"
	const final = "c4010 resume outside retention window"
	for _, carrier := range []string{"sse", "poll", "ws"} {
		t.Run(carrier, func(t *testing.T) {
			sid := openSession(t, base)
			for last := "0"; last != "3"; { // wait for the 3 frames
				resp, err := http.Get(base + "/.ferry/" + sid + "/poll?last=" + last)
				if err != nil {
					t.Fatal(err)
				}
				d := wire.NewEventDecoder(resp.Body)
				for ev, err := d.Next(); err == nil; ev, err = d.Next() {
					if ev.ID != "" {
						last = ev.ID
					}
				}
				resp.Body.Close()
			}
			if status, body := postSend(t, base, sid, "ack=3", ""); status != 200 { // frames 1-3 are dropped
				t.Fatalf("ack: %d %s", status, body)
			}
			if carrier == "ws" {
				c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/.ferry/"+sid+"/ws?last=1", nil)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
				_, open, _ := c.ReadMessage()
				_, p, _ := c.ReadMessage()
				if !bytes.HasPrefix(open, []byte("\x01o{")) || string(p) != "\x01"+final {
					t.Fatalf("messages %q, %q; want the o frame then %q", open, p, final)
				}
			} else {
				resp, err := http.Get(base + "/.ferry/" + sid + "/" + carrier + "?last=1")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := "id: 2\ndata: " + final + "\n\n"
				if resp.StatusCode != 200 || !strings.HasSuffix(string(body), want) || bytes.Contains(body, []byte("data: o")) {
					t.Fatalf("%d %q, want 200 ending %q", resp.StatusCode, body, want)
				}
				wantType := map[string]string{"sse": "text/event-stream", "poll": "text/plain"}[carrier]
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
					t.Fatalf("Content-Type %q, want %s", ct, wantType)
				}
			}
			waitClose(t, closes, sid, bytesocket.StatusResumeOutsideWindow)
		})
	}
}

// TestTransportsEnforced checks that a carrier the service does not offer
// is refused on every way in, with 403, and that open refuses an unknown
// transport with 400.
func TestTransportsEnforced(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{Transports: []string{emulation.TransportSSE}}, server.Echo)
	ts := newServer(g)
	defer ts.Close()
	base := ts.URL + "/svc"
	sid := openSession(t, base)
	upgrade := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		status             int
		reason             string
	}{
		{"open longpoll", "POST", "/.ferry/open?transport=longpoll", nil, 403, "transport not offered: longpoll"},
		{"open unknown", "POST", "/.ferry/open?transport=pigeon", nil, 400, "unknown transport"},
		{"poll", "GET", "/.ferry/" + sid + "/poll", nil, 403, "transport not offered: longpoll"},
		{"ferry ws", "GET", "/.ferry/ws", upgrade, 403, "transport not offered: websocket"},
		{"ferry ws resume", "GET", "/.ferry/" + sid + "/ws", upgrade, 403, "transport not offered: websocket"},
		{"plain ws", "GET", "", upgrade, 403, "transport not offered: websocket"},
		{"sse", "GET", "/.ferry/" + sid + "/sse?last=0", nil, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := http.DefaultClient.Do(req.WithContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.reason != "" {
				body, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(body), tc.reason) {
					t.Fatalf("body %q, want %q", body, tc.reason)
				}
			}
		})
	}
}

// TestVersionHandshake checks the v parameter: the highest version both
// speak is selected; no v at all is version 1.
func TestVersionHandshake(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	ts := newServer(g)
	defer ts.Close()
	for _, q := range []string{"", "?v=1", "?v=1,2", "?v=2,1"} {
		resp, err := http.Post(ts.URL+"/echo/.ferry/open"+q, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte(`{"v":1,`)) {
			t.Errorf("open%s: %d %s, want version 1", q, resp.StatusCode, body)
		}
	}
	c := dialFerryWS(t, ts, "/echo/.ferry/ws?v=1,2")
	c.Close()
}

// TestReplacedDownstream checks what a downstream gets when a newer one
// of the same session replaces it: an event stream ends without another
// frame, a held poll is answered at once with "h", a Ferry WebSocket is
// closed with 4000.
func TestReplacedDownstream(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	ts := newServer(g)
	defer ts.Close()
	base := ts.URL + "/echo"
	for _, carrier := range []string{"sse", "poll", "ws"} {
		t.Run(carrier, func(t *testing.T) {
			sid := openSession(t, base)
			var old *http.Response
			var oldWS *websocket.Conn
			polled := make(chan *http.Response, 1)
			if carrier == "poll" {
				go func() {
					resp, err := http.Get(base + "/.ferry/" + sid + "/poll?last=0")
					if err != nil {
						t.Error(err)
					}
					polled <- resp
				}()
				waitHeld(t, ts.URL, nil, "poll")
			} else if carrier == "ws" {
				oldWS = dialFerryWS(t, ts, "/echo/.ferry/"+sid+"/ws?last=0")
				defer oldWS.Close()
			} else {
				var err error
				old, err = http.Get(base + "/.ferry/" + sid + "/" + carrier + "?last=0")
				if err != nil {
					t.Fatal(err)
				}
				defer old.Body.Close()
				if carrier == "sse" { // wait for the stream's "o" event: it is attached
					d := wire.NewEventDecoder(old.Body)
					if ev, err := d.Next(); err != nil || !bytes.HasPrefix(ev.Data, []byte("o{")) {
						t.Fatalf("first event %q, %v", ev.Data, err)
					}
				}
			}
			newer, err := http.Get(base + "/.ferry/" + sid + "/sse?last=0")
			if err != nil {
				t.Fatal(err)
			}
			defer newer.Body.Close()
			switch carrier {
			case "ws":
				for {
					_, _, err := oldWS.ReadMessage()
					if err != nil {
						if !websocket.IsCloseError(err, 4000) {
							t.Fatalf("old WebSocket ended with %v, want close 4000", err)
						}
						break
					}
				}
			default:
				if carrier == "poll" {
					if old = <-polled; old == nil {
						return
					}
					defer old.Body.Close()
				}
				rest, err := io.ReadAll(old.Body)
				if err != nil {
					t.Fatalf("old %s: %v", carrier, err)
				}
				if carrier == "poll" && string(rest) != "data: h\n\n" {
					t.Fatalf("old poll answered %q, want a heartbeat", rest)
				}
				if carrier == "sse" && len(rest) != 0 {
					t.Fatalf("old stream got %q after the new one attached, want its end", rest)
				}
			}
		})
	}
}

// TestFerryWSCreditOverrun checks that a Ferry WebSocket client sending
// past twice its inbound credit gets its session closed with 1008 (once
// the handler has read what came before), instead of the server's reader
// stopping or its queue growing.
func TestFerryWSCreditOverrun(t *testing.T) {
	release := make(chan struct{})
	closes := make(chan sessionClose, 1)
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{Emulation: emulation.Config{InboundBytes: 64 << 10}}, func(s bytesocket.Socket) {
		<-release
		n := 0
		for {
			if _, _, err := s.Read(context.Background()); err != nil {
				if n < (64<<10)/emulation.MessageOverhead {
					t.Errorf("read %d messages before the close, want the queued ones first", n)
				}
				closes <- sessionClose{s.(*emulation.Session).ID(), bytesocket.CloseStatus(err)}
				return
			}
			n++
		}
	})
	ts := newServer(g)
	defer ts.Close()
	c := dialFerryWS(t, ts, "/svc/.ferry/ws")
	defer c.Close()
	for range 3 * (64 << 10) / emulation.MessageOverhead { // 1.5 x the queue past twice the credit
		if err := c.WriteMessage(websocket.TextMessage, nil); err != nil {
			break // the server closed the connection
		}
	}
	// The server drops the connection once it has read past the credit;
	// only then may the handler start reading (it would make room).
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			break
		}
	}
	close(release)
	select {
	case sc := <-closes:
		if sc.code != bytesocket.StatusPolicyViolation {
			t.Fatalf("handler saw %d, want 1008", sc.code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("handler never saw the close")
	}
}
