package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/server"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// rawFerryWS opens a Ferry WebSocket session by hand and returns the
// connection and the session id from its "o" frame.
func rawFerryWS(t *testing.T, base string) (*websocket.Conn, string) {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/.ferry/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_, p, err := conn.ReadMessage()
	if err != nil || len(p) < 2 || p[0] != 1 || p[1] != 'o' {
		t.Fatalf("first message %q, %v; want an o frame", p, err)
	}
	var info wire.OpenInfo
	if err := json.Unmarshal(p[2:], &info); err != nil {
		t.Fatal(err)
	}
	return conn, info.Session
}

func control(t *testing.T, conn *websocket.Conn, frame string) {
	t.Helper()
	if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{1}, frame...)); err != nil {
		t.Fatal(err)
	}
}

// TestFerryWSNextFrame checks the "n" control frame of PROTOCOL.md §6: a
// client whose frames were delivered by a POST while its WebSocket was up
// skips them on the WebSocket by restating the number of its next frame,
// and the application reads every message once, in order. An "n" that goes
// back, or past what the server has received, is a protocol error (1002).
func TestFerryWSNextFrame(t *testing.T) {
	type read struct {
		msg string
		err error
	}
	reads := make(chan read, 100)
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{}, func(s bytesocket.Socket) {
		for {
			_, p, err := s.Read(context.Background())
			reads <- read{string(p), err}
			if err != nil {
				return
			}
		}
	})
	ts := newServer(g)
	defer ts.Close()
	base := ts.URL + "/svc"
	expect := func(t *testing.T, want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case r := <-reads:
				if r.err != nil || r.msg != w {
					t.Fatalf("read %q, %v; want %q", r.msg, r.err, w)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no message; want %q", w)
			}
		}
	}
	expectClose := func(t *testing.T, code bytesocket.StatusCode) {
		t.Helper()
		select {
		case r := <-reads:
			if bytesocket.CloseStatus(r.err) != code {
				t.Fatalf("read %q, %v; want close %d", r.msg, r.err, code)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no close; want %d", code)
		}
	}

	t.Run("skip frames a POST delivered", func(t *testing.T) {
		conn, sid := rawFerryWS(t, base)
		for _, m := range []string{"m1", "m2"} {
			if err := conn.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		expect(t, "m1", "m2")
		resp, err := http.Post(base+"/.ferry/"+sid+"/send?seq=3", "text/plain", strings.NewReader("tm3\ntm4\n"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST: %d", resp.StatusCode)
		}
		expect(t, "m3", "m4")
		control(t, conn, "n5")
		if err := conn.WriteMessage(websocket.TextMessage, []byte("m5")); err != nil {
			t.Fatal(err)
		}
		// Restating the number the server expects anyway is allowed.
		control(t, conn, "n6")
		if err := conn.WriteMessage(websocket.TextMessage, []byte("m6")); err != nil {
			t.Fatal(err)
		}
		expect(t, "m5", "m6")
	})
	for _, tc := range []struct{ name, frame string }{
		{"n going back", "n1"},
		{"n past what was received", "n4"},
		{"n zero", "n0"},
		{"n garbage", "n5x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, _ := rawFerryWS(t, base)
			for _, m := range []string{"m1", "m2"} {
				if err := conn.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			expect(t, "m1", "m2")
			control(t, conn, tc.frame)
			expectClose(t, bytesocket.StatusProtocolError)
		})
	}
}
