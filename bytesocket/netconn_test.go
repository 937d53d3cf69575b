package bytesocket_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/bytesocket/sockettest"
)

// pipeConn returns a NetConn over one end of a Pipe, and the other end.
func pipeConn(t *testing.T, ctx context.Context, typ bytesocket.MessageType) (net.Conn, bytesocket.Socket) {
	t.Helper()
	a, b := sockettest.Pipe()
	c := bytesocket.NetConn(ctx, a, typ)
	t.Cleanup(func() {
		_ = c.Close()
		_ = b.Close(bytesocket.StatusNormalClosure, "")
	})
	return c, b
}

// write has s send each of msgs as a binary message.
func write(t *testing.T, s bytesocket.Socket, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if err := s.Write(context.Background(), bytesocket.Binary, []byte(m)); err != nil {
			t.Fatalf("Write(%q) = %v", m, err)
		}
	}
}

// expectRead reads one message from s and wants it to be typ and want.
func expectRead(t *testing.T, s bytesocket.Socket, typ bytesocket.MessageType, want string) {
	t.Helper()
	gotTyp, got, err := s.Read(context.Background())
	if err != nil || gotTyp != typ || string(got) != want {
		t.Fatalf("Read = %s, %q, %v; want %s, %q", gotTyp, got, err, typ, want)
	}
}

func TestNetConnWriteSendsOneMessage(t *testing.T) {
	for _, typ := range []bytesocket.MessageType{bytesocket.Text, bytesocket.Binary} {
		t.Run(typ.String(), func(t *testing.T) {
			c, peer := pipeConn(t, context.Background(), typ)
			for _, p := range []string{"hello", "", "\r\n", "world"} {
				if n, err := c.Write([]byte(p)); n != len(p) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", p, n, err)
				}
				expectRead(t, peer, typ, p)
			}
		})
	}
}

func TestNetConnWriteInvalidUTF8(t *testing.T) {
	c, _ := pipeConn(t, context.Background(), bytesocket.Text)
	if n, err := c.Write([]byte("\xff")); n != 0 || !errors.Is(err, bytesocket.ErrInvalidUTF8) {
		t.Errorf("Write of invalid UTF-8 in text mode = %d, %v; want 0, ErrInvalidUTF8", n, err)
	}
}

func TestNetConnReadSpansMessages(t *testing.T) {
	c, peer := pipeConn(t, context.Background(), bytesocket.Binary)
	ctx := context.Background()
	for _, m := range []struct {
		typ bytesocket.MessageType
		p   string
	}{
		{bytesocket.Text, "Hello, "}, {bytesocket.Binary, ""}, {bytesocket.Binary, "\x00\xff"},
		{bytesocket.Text, ""}, {bytesocket.Text, " wörld"}, {bytesocket.Binary, "!"},
	} {
		if err := peer.Write(ctx, m.typ, []byte(m.p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := peer.Close(bytesocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(c, []byte("Hello, \x00\xff wörld!")); err != nil {
		t.Error(err)
	}
}

func TestNetConnPeerClose(t *testing.T) {
	for _, tt := range []struct {
		code bytesocket.StatusCode
		want error
	}{
		{bytesocket.StatusNormalClosure, io.EOF},
		{bytesocket.StatusGoingAway, io.EOF},
		{bytesocket.StatusInternalError, bytesocket.CloseError{Code: bytesocket.StatusInternalError, Reason: "why"}},
		{4000, bytesocket.CloseError{Code: 4000, Reason: "why"}},
	} {
		c, peer := pipeConn(t, context.Background(), bytesocket.Binary)
		write(t, peer, "data")
		if err := peer.Close(tt.code, "why"); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		if tt.want == io.EOF {
			err = io.EOF // ReadAll swallows it
		}
		if string(got) != "data" || err != tt.want {
			t.Errorf("peer closed with %d: ReadAll = %q, %v; want %q, %v", tt.code, got, err, "data", tt.want)
		}
		if _, err := c.Read(make([]byte, 1)); err != tt.want {
			t.Errorf("peer closed with %d: Read again = %v, want %v", tt.code, err, tt.want)
		}
	}
}

func TestNetConnClose(t *testing.T) {
	c, peer := pipeConn(t, context.Background(), bytesocket.Binary)
	if err := c.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	_, _, err := peer.Read(context.Background())
	if want := (bytesocket.CloseError{Code: bytesocket.StatusNormalClosure}); err != want {
		t.Errorf("peer's Read = %v, want %v", err, want)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
	if err := c.SetDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("SetDeadline after Close = %v, want net.ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}
}

func TestNetConnCloseAfterPeerClose(t *testing.T) {
	c, peer := pipeConn(t, context.Background(), bytesocket.Binary)
	if err := peer.Close(bytesocket.StatusGoingAway, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("Read = %v, want io.EOF", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after the peer closed = %v, want nil", err)
	}
}

func TestNetConnContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, peer := pipeConn(t, ctx, bytesocket.Binary)
	write(t, peer, "unread")
	cancel()
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, context.Canceled) || isTimeout(err) {
		t.Errorf("Read after the context ended = %v, want context.Canceled", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, context.Canceled) || isTimeout(err) {
		t.Errorf("Write after the context ended = %v, want context.Canceled", err)
	}
	write(t, peer, "fails if the context closed the Socket")
}

func TestNetConnAddrs(t *testing.T) {
	c, _ := pipeConn(t, context.Background(), bytesocket.Binary)
	if a := c.RemoteAddr(); a.Network() != "pipe" || a.String() != "pipe" {
		t.Errorf("RemoteAddr = %s %s, want the Socket's, pipe pipe", a.Network(), a)
	}
	if a := c.LocalAddr(); a.Network() != "bytesocket" || a.String() == "" {
		t.Errorf("LocalAddr = %q %q", a.Network(), a)
	}
}

// TestNetConnStream copies 1 MiB each way at once between two NetConns
// over a Pipe, in odd-sized writes and reads; then one closes, and the
// other reads io.EOF.
func TestNetConnStream(t *testing.T) {
	a, b := sockettest.Pipe()
	ca := bytesocket.NetConn(context.Background(), a, bytesocket.Binary)
	cb := bytesocket.NetConn(context.Background(), b, bytesocket.Binary)
	defer cb.Close()
	dataA, dataB := noise(1<<20, 1), noise(1<<20, 2)
	var wg sync.WaitGroup
	send := func(c net.Conn, data []byte) {
		if _, err := io.CopyBuffer(c, bytes.NewReader(data), make([]byte, 4093)); err != nil {
			t.Errorf("copy: %v", err)
		}
	}
	recv := func(c net.Conn, want []byte) {
		got := make([]byte, len(want))
		n, err := io.ReadFull(iotest.HalfReader(c), got)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadFull = %d bytes, %v; want %d bytes, equal", n, err, len(want))
		}
	}
	wg.Go(func() { send(ca, dataA) })
	wg.Go(func() { send(cb, dataB) })
	wg.Go(func() { recv(ca, dataB) })
	wg.Go(func() { recv(cb, dataA) })
	wg.Wait()
	if err := ca.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := cb.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read after the peer's Close = %d, %v; want 0, io.EOF", n, err)
	}
}

// noise returns n pseudo-random bytes, the same for a seed.
func noise(n int, seed uint64) []byte {
	p := make([]byte, n)
	x := seed
	for i := range p {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x)
	}
	return p
}

// TestNetConnConcurrentUse reads, writes, sets deadlines and reads
// addresses from many goroutines at once; run with -race. Every Write
// must arrive as one whole message.
func TestNetConnConcurrentUse(t *testing.T) {
	const writers, writes, size = 8, 100, 1000
	c, peer := pipeConn(t, context.Background(), bytesocket.Binary)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			chunk := bytes.Repeat([]byte{byte(w)}, size)
			for range writes {
				if _, err := c.Write(chunk); err != nil {
					t.Errorf("Write: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range writes {
			_ = c.SetDeadline(time.Now().Add(time.Hour))
			_, _ = c.LocalAddr(), c.RemoteAddr()
		}
	})
	wg.Go(func() {
		for range writers * writes {
			_, p, err := peer.Read(context.Background())
			if err != nil || len(p) != size || bytes.Count(p, p[:1]) != size {
				t.Errorf("peer read %d bytes (%v), not one whole Write", len(p), err)
				return
			}
		}
		write(t, peer, string(make([]byte, 3*size)))
	})
	var read int64
	var mu sync.Mutex
	for range 3 {
		wg.Go(func() {
			n, err := c.Read(make([]byte, size))
			mu.Lock()
			read += int64(n)
			mu.Unlock()
			if err != nil {
				t.Errorf("Read: %v", err)
			}
		})
	}
	wg.Wait()
	if read != 3*size {
		t.Errorf("three Reads of %d bytes got %d bytes in all, want %d", size, read, 3*size)
	}
}

// isTimeout reports whether err is a deadline error as net.Conn callers
// expect it.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
}
