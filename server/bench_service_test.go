package server_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/bytesocket/sockettest"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

func TestBench(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, c := sockettest.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		server.Bench(srv)
		_ = srv.Close(bytesocket.StatusNormalClosure, "")
	}()
	write := func(typ bytesocket.MessageType, p string) {
		t.Helper()
		if err := c.Write(ctx, typ, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(typ bytesocket.MessageType, p string) {
		t.Helper()
		gt, gp, err := c.Read(ctx)
		if err != nil || gt != typ || string(gp) != p {
			t.Fatalf("read %v %q %v, want %v %q", gt, gp, err, typ, p)
		}
	}

	write(bytesocket.Binary, "\x00\x01")
	expect(bytesocket.Binary, "\x00\x01")
	write(bytesocket.Text, "down 3 5")
	for range 3 {
		expect(bytesocket.Binary, "\x00\x01\x02\x03\x04")
	}
	expect(bytesocket.Text, "done")
	write(bytesocket.Text, "down 0 5")
	expect(bytesocket.Text, "done")

	write(bytesocket.Text, "up 2")
	write(bytesocket.Binary, "a")
	write(bytesocket.Text, "b")
	expect(bytesocket.Text, "got 2")
	write(bytesocket.Text, "up")
	for range 4 {
		write(bytesocket.Binary, "x")
	}
	write(bytesocket.Text, "end")
	expect(bytesocket.Text, "got 4")

	// Malformed or out-of-range commands are ordinary text: echoed.
	for _, p := range []string{"down 1", "down x 1", "down 1 99999999999", "up 0", "up 1 2", "upx", "end"} {
		write(bytesocket.Text, p)
		expect(bytesocket.Text, p)
	}

	// Closing stops a long stream.
	write(bytesocket.Text, "down 1000000000 16")
	expect(bytesocket.Binary, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f")
	if err := c.Close(bytesocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Bench did not return after close")
	}
}

// A configuration with type bench serves Bench.
func TestBenchConfig(t *testing.T) {
	cfg, err := server.ParseConfig("f.yaml", []byte("services:\n  - path: /bench\n    type: bench\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := server.Build(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(g)
	defer ts.Close()
	s, err := client.Dial(ctx, ts.URL+"/bench", &client.Options{Transport: client.SSE})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAndWait(t, s)
	if err := s.Write(ctx, bytesocket.Text, []byte("down 2 3")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\x00\x01\x02", "\x00\x01\x02", "done"} {
		if _, p, err := s.Read(ctx); err != nil || string(p) != want {
			t.Fatalf("read %q %v, want %q", p, err, want)
		}
	}
}
