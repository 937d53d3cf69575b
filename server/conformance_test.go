package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/bytesocket/sockettest"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

// TestConformance runs the bytesocket conformance suite over every
// carrier, with the server's socket on one end and the Go client's on the
// other. The "resumed" pairs start on a Ferry WebSocket that is dropped
// before the suite runs, so every subtest runs on a resumed session.
func TestConformance(t *testing.T) {
	cases := []struct {
		name   string
		opts   client.Options
		resume bool
	}{
		{"native", client.Options{Transport: client.Plain}, false},
		{"websocket", client.Options{Transport: client.WebSocket}, false},
		{"sse", client.Options{Transport: client.SSE}, false},
		{"longpoll", client.Options{Transport: client.LongPoll}, false},
		{"resumed-websocket", client.Options{Transport: client.WebSocket}, true},
		{"websocket-resumed-on-sse", client.Options{Transport: client.WebSocket, Resume: []string{client.SSE}}, true},
		{"websocket-resumed-on-longpoll", client.Options{Transport: client.WebSocket, Resume: []string{client.LongPoll}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sockettest.Run(t, func(t *testing.T) (bytesocket.Socket, bytesocket.Socket, func()) {
				return makePair(t, tc.opts, tc.resume)
			})
		})
	}
}

func makePair(t *testing.T, opts client.Options, resume bool) (bytesocket.Socket, bytesocket.Socket, func()) {
	accepted := make(chan bytesocket.Socket, 1)
	done := make(chan struct{})
	g := server.NewGateway(nil, nil)
	g.Handle("/pair", server.ServiceConfig{Protocols: []string{"conformance"}}, func(s bytesocket.Socket) {
		accepted <- s
		<-done // the socket lives until the subtest ends
	})
	ts := newServer(g)
	opts.Protocols = []string{"conformance"}
	opts.MaxBackoff = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, ts.URL+"/pair", &opts)
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if resume {
		resumeOnce(t, c.(*client.Conn), opts)
	}
	stop := func() {
		close(done)
		_ = c.Close(bytesocket.StatusNormalClosure, "")
		if conn, ok := c.(*client.Conn); ok {
			select {
			case <-conn.Done():
			case <-time.After(10 * time.Second):
			}
		}
		ts.CloseClientConnections()
		ts.Close()
	}
	return s, c, stop
}

// resumeOnce drops the client's carrier and waits until the session runs
// on the resume transport.
func resumeOnce(t *testing.T, c *client.Conn, opts client.Options) {
	want := opts.Transport
	if len(opts.Resume) > 0 {
		want = opts.Resume[0]
	}
	before := c.Resumes()
	c.Interrupt()
	deadline := time.Now().Add(10 * time.Second)
	for c.Transport() != want || c.Resumes() == before {
		if time.Now().After(deadline) {
			t.Fatalf("session did not resume on %s (on %q)", want, c.Transport())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
