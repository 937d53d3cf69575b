package server_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

// TestUpstreamBurstDoesNotDeadlock sends 4 MiB in 4 KiB messages as fast
// as the socket takes them while reading the echoes. On a Ferry WebSocket
// acks share the connection with data, so without credit-based flow
// control the server's reader stalls behind a full inbound queue while its
// echo handler waits for acks stuck behind that same data.
func TestUpstreamBurstDoesNotDeadlock(t *testing.T) {
	for _, tr := range []string{client.WebSocket, client.SSE, client.LongPoll} {
		t.Run(tr, func(t *testing.T) {
			g := server.NewGateway(nil, nil)
			g.Handle("/echo", server.ServiceConfig{}, server.Echo)
			ts := newServer(g)
			defer ts.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s, err := client.Dial(ctx, ts.URL+"/echo", &client.Options{Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			defer closeAndWait(t, s)
			const n = 1000
			msg := bytes.Repeat([]byte{7}, 4096)
			werr := make(chan error, 1)
			go func() {
				for range n {
					if err := s.Write(ctx, bytesocket.Binary, msg); err != nil {
						werr <- err
						return
					}
				}
				werr <- nil
			}()
			for i := range n {
				if _, p, err := s.Read(ctx); err != nil || !bytes.Equal(p, msg) {
					t.Fatalf("echo %d: %v (stalled: flow control deadlock?)", i, err)
				}
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
		})
	}
}
