package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
)

// TestDownstreamGoneNoticedAtOnce checks that a client closing its held
// long-poll or event stream is noticed when it closes, not at the next
// heartbeat: with a one-minute heartbeat and poll hold and a short resume
// timeout, the session must expire within the resume timeout.
func TestDownstreamGoneNoticedAtOnce(t *testing.T) {
	for _, carrier := range []string{"poll", "sse"} {
		t.Run(carrier, func(t *testing.T) {
			closes := make(chan sessionClose, 1)
			g := server.NewGateway(nil, nil)
			cfg := server.ServiceConfig{Emulation: emulation.Config{
				Heartbeat: time.Minute, PollHold: time.Minute, ResumeTimeout: 200 * time.Millisecond,
			}}
			g.Handle("/svc", cfg, func(s bytesocket.Socket) {
				_, _, err := s.Read(context.Background())
				closes <- sessionClose{s.(*emulation.Session).ID(), bytesocket.CloseStatus(err)}
			})
			ts := newServer(g)
			defer ts.Close()
			sid := openSession(t, ts.URL+"/svc")
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "GET /svc/.ferry/%s/%s HTTP/1.1\r\nHost: %s\r\n\r\n", sid, carrier, ts.Listener.Addr())
			waitHeld(t, ts.URL, conn, carrier)
			conn.Close()
			waitClose(t, closes, sid, bytesocket.StatusAbnormalClosure)
		})
	}
}

// waitHeld waits until the server holds the downstream request on conn:
// an event stream has sent its "o" event; a long-poll shows as the
// session's transport in the metrics.
func waitHeld(t *testing.T, base string, conn net.Conn, carrier string) {
	t.Helper()
	if carrier == "sse" {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var got []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte("data: o{")) {
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("stream: %v after %q", err, got)
			}
			got = append(got, buf[:n]...)
		}
		return
	}
	for range 1000 {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(body, []byte(`transport="longpoll"} 1`)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the long-poll was never held")
}
