package server_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

// TestGracefulShutdown checks that ending Serve's context closes every
// session, native and emulated, with 1001 and that Serve returns.
func TestGracefulShutdown(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln, 10*time.Second) }()
	url := "ws://" + ln.Addr().String() + "/echo"
	var socks []bytesocket.Socket
	for _, tr := range []string{client.Plain, client.WebSocket, client.SSE, client.LongPoll} {
		s, err := client.Dial(context.Background(), url, &client.Options{Transport: tr})
		if err != nil {
			t.Fatalf("%s: %v", tr, err)
		}
		echoOnce(t, s, "hello "+tr)
		socks = append(socks, s)
	}
	stop()
	for i, s := range socks {
		rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, _, err := s.Read(rctx)
		cancel()
		if code := bytesocket.CloseStatus(err); code != bytesocket.StatusGoingAway {
			t.Errorf("socket %d (%s): Read = %v, want close 1001", i, s.Transport(), err)
		}
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
}
