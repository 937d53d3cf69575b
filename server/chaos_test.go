package server_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/internal/faultproxy"
	"github.com/ferrygw/ferry/server"
	"github.com/gorilla/websocket"
)

// edge holds the payload fragments that break naive event-stream framing.
var edge = []string{"\r", "\r\n", "\n\n", "data: x", "id: 9", "\x00", "\u2028", "😀𝄞", "\\", "\\r\\n", ":", " "}

// payload returns message i of direction dir: its type and bytes depend
// only on (dir, i), so the receiver can check every message exactly.
func payload(dir string, i int) (bytesocket.MessageType, []byte) {
	r := rand.New(rand.NewPCG(uint64(i), uint64(len(dir))))
	size := r.IntN(1024)
	if r.IntN(100) == 0 {
		size = 64 << 10
	}
	if i%3 == 0 {
		p := make([]byte, size+8)
		for j := range p {
			p[j] = byte(r.Uint32())
		}
		copy(p, fmt.Sprintf("%s%07d", dir[:1], i))
		return bytesocket.Binary, p
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s#%d#", dir, i)
	for b.Len() < size {
		b.WriteString(edge[r.IntN(len(edge))])
	}
	return bytesocket.Text, []byte(b.String())
}

// exchange sends n messages of dir "send" and checks n of dir "recv".
func exchange(ctx context.Context, s bytesocket.Socket, n int, send, recv string) error {
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			typ, p := payload(send, i)
			if err := s.Write(ctx, typ, p); err != nil {
				errc <- fmt.Errorf("write %d: %w", i, err)
				return
			}
		}
		errc <- nil
	}()
	for i := range n {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return fmt.Errorf("read %d of %d: %w", i, n, err)
		}
		wt, wp := payload(recv, i)
		if typ != wt || !bytes.Equal(p, wp) {
			return fmt.Errorf("message %d: got %s %.40q, want %s %.40q (lost, duplicated or reordered)", i, typ, p, wt, wp)
		}
	}
	return <-errc
}

type chaosResult struct {
	err  error
	code bytesocket.StatusCode
}

func TestChaos(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	cases := []struct {
		name string
		opts client.Options
	}{
		{"websocket", client.Options{Transport: client.WebSocket}},
		{"sse", client.Options{Transport: client.SSE}},
		{"longpoll", client.Options{Transport: client.LongPoll}},
		{"websocket-resumes-on-sse-and-longpoll", client.Options{
			Transport: client.WebSocket, Resume: []string{client.SSE, client.LongPoll, client.WebSocket}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runChaos(t, tc.opts, n) })
	}
}

func runChaos(t *testing.T, opts client.Options, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	results := make(chan chaosResult, 1)
	g := server.NewGateway(nil, nil)
	g.Handle("/chaos", server.ServiceConfig{Emulation: emulation.Config{Heartbeat: time.Second}}, func(s bytesocket.Socket) {
		err := exchange(ctx, s, n, "down", "up")
		_, _, cerr := s.Read(ctx)
		results <- chaosResult{err, bytesocket.CloseStatus(cerr)}
	})
	ts := newServer(g)
	defer ts.Close()
	proxy, err := faultproxy.New(ts.Listener.Addr().String(), 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, proxy.Addr())
	}
	opts.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: dial}}
	opts.Dialer = &websocket.Dialer{NetDialContext: dial}
	opts.MaxBackoff = 50 * time.Millisecond
	var s bytesocket.Socket
	for attempt := 0; s == nil; attempt++ { // the opening request may be cut too
		if s, err = client.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/chaos", &opts); err != nil && attempt > 50 {
			t.Fatalf("dial: %v", err)
		}
	}
	if err := exchange(ctx, s, n, "up", "down"); err != nil {
		t.Fatalf("client: %v", err)
	}
	if err := s.Close(bytesocket.StatusNormalClosure, "done"); err != nil {
		t.Fatal(err)
	}
	r := <-results
	if r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	if r.code != bytesocket.StatusNormalClosure {
		t.Fatalf("server saw close %d, want 1000", r.code)
	}
	t.Logf("%d messages each way, %d connections, %d cut", n, proxy.Conns(), proxy.Cuts())
	if proxy.Cuts() < 50 && n >= 10000 {
		t.Fatalf("only %d cuts; the run must cut at least 50 connections", proxy.Cuts())
	}
}
