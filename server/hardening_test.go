package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
)

// responses reads HTTP/1.1 responses from conn until it closes and
// returns their status codes.
func responses(t *testing.T, conn net.Conn) []int {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	var codes []int
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if err != io.EOF && err != io.ErrUnexpectedEOF && !strings.Contains(err.Error(), "connection reset") {
				t.Fatalf("after %v: %v", codes, err)
			}
			return codes
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
}

// TestNoSmugglingThroughGET checks that a GET carrying a body, on every
// path that takes its connection off net/http (a held long-poll, an event
// stream, both WebSocket upgrades), is answered once with 400 and its
// connection closed: the body is never read as a second request.
func TestNoSmugglingThroughGET(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	ts := newServer(g)
	defer ts.Close()
	host := ts.Listener.Addr().String()
	inner := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	for _, path := range []string{"/.ferry/{sid}/poll", "/.ferry/{sid}/sse", "/.ferry/{sid}/ws", "/.ferry/ws", ""} {
		for _, framing := range []string{"content-length", "chunked"} {
			t.Run(strings.TrimPrefix(path, "/")+"/"+framing, func(t *testing.T) {
				p := "/echo" + strings.Replace(path, "{sid}", openSession(t, ts.URL+"/echo"), 1)
				head := "GET " + p + " HTTP/1.1\r\nHost: " + host + "\r\n"
				if path == "" || strings.HasSuffix(path, "ws") {
					head += "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				}
				req := head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(inner)) + inner
				if framing == "chunked" {
					req = head + fmt.Sprintf("Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(inner), inner)
				}
				conn, err := net.Dial("tcp", host)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if _, err := io.WriteString(conn, req); err != nil {
					t.Fatal(err)
				}
				if codes := responses(t, conn); len(codes) != 1 || codes[0] != http.StatusBadRequest {
					t.Fatalf("responses %v, want exactly one 400 and the connection closed", codes)
				}
			})
		}
	}
}

// TestSlowUploadTimesOut checks that an upstream body trickling in fails
// with 408 once the upload timeout has passed, and that the session then
// expires instead of being held alive by the request.
func TestSlowUploadTimesOut(t *testing.T) {
	closes := make(chan sessionClose, 1)
	g := server.NewGateway(nil, nil)
	cfg := server.ServiceConfig{Emulation: emulation.Config{UploadTimeout: 300 * time.Millisecond, ResumeTimeout: 300 * time.Millisecond}}
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
	defer conn.Close()
	fmt.Fprintf(conn, "POST /svc/.ferry/%s/send?seq=1 HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nt", sid, ts.Listener.Addr())
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 50 ms: 50 s for the whole body
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	if codes := responses(t, conn); len(codes) != 1 || codes[0] != http.StatusRequestTimeout {
		t.Fatalf("responses %v, want one 408 and the connection closed", codes)
	}
	waitClose(t, closes, sid, bytesocket.StatusAbnormalClosure)
}
