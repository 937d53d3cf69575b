package wsnative

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// TestWriteRaw sends pre-encoded frames of every length class in one
// WriteRaw, interleaved with ordinary writes, and checks that a gorilla
// client reads each message whole and in order.
func TestWriteRaw(t *testing.T) {
	type msg struct {
		typ bytesocket.MessageType
		p   []byte
	}
	var msgs []msg
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 200000} {
		msgs = append(msgs, msg{bytesocket.Binary, bytes.Repeat([]byte{byte(n)}, n)})
		msgs = append(msgs, msg{bytesocket.Text, []byte(strings.Repeat("é", n/2))})
	}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s := New(conn, r.Header, 1<<20)
		ctx := context.Background()
		var raw net.Buffers
		for i, m := range msgs {
			if i%3 == 0 {
				if err := s.Write(ctx, m.typ, m.p); err != nil {
					t.Error(err)
				}
				continue
			}
			raw = append(raw, wire.AppendServerFrame(nil, m.typ, m.p))
			if i%3 == 2 {
				if err := s.WriteRaw(ctx, raw); err != nil {
					t.Error(err)
				}
				raw = nil
			}
		}
		if len(raw) > 0 {
			if err := s.WriteRaw(ctx, raw); err != nil {
				t.Error(err)
			}
		}
		_, _, _ = s.Read(ctx) // until the client closes
	}))
	defer srv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadLimit(1 << 20)
	for i, m := range msgs {
		typ, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != int(m.typ) || !bytes.Equal(p, m.p) {
			t.Fatalf("message %d: got type %d, %d bytes; want type %d, %d bytes", i, typ, len(p), m.typ, len(m.p))
		}
	}
}
