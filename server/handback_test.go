package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

// TestLongPollHandBack echoes messages one at a time over long-poll, so
// every poll waits, and checks that waiting polls left net/http
// (StateHijacked) and that their connections came back for the next
// request: the client keeps using a few connections, not one per poll.
func TestLongPollHandBack(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	ts := httptest.NewUnstartedServer(g)
	hl := server.NewHandBackListener(ts.Listener)
	ts.Listener = hl
	ts.Config.ConnContext = hl.ConnContext
	var mu sync.Mutex
	hijacked := 0
	remotes := map[string]bool{}
	ts.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateHijacked:
			hijacked++
		case http.StateNew:
			remotes[c.RemoteAddr().String()] = true
		}
	}
	ts.Start()
	defer ts.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, ts.URL+"/echo", &client.Options{Transport: client.LongPoll})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		msg := fmt.Sprintf("m%d", i)
		if err := s.Write(ctx, bytesocket.Text, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, p, err := s.Read(ctx)
		if err != nil || string(p) != msg {
			t.Fatalf("echo %d: %q, %v", i, p, err)
		}
	}
	if err := s.Close(bytesocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d round trips: %d polls detached, %d client connections", n, hijacked, len(remotes))
	if hijacked < n/2 {
		t.Errorf("only %d of about %d polls were taken off net/http", hijacked, n)
	}
	if len(remotes) > 4 {
		t.Errorf("%d client connections for %d polls: connections were not given back", len(remotes), n)
	}
}
