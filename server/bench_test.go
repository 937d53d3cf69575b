package server_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

// benchTransports are the carriers every benchmark compares: "tcp" is a
// raw length-prefixed TCP echo (the floor), "native" plain RFC 6455.
var benchTransports = []string{"tcp", "native", client.WebSocket, client.SSE, client.LongPoll}

func benchServer(b *testing.B) *httptest.Server {
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	g.Handle("/burst", server.ServiceConfig{}, burst)
	ts := newServer(g)
	b.Cleanup(ts.Close)
	return ts
}

// burst answers "n size" with n binary messages of size bytes.
func burst(s bytesocket.Socket) {
	ctx := context.Background()
	for {
		_, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		var n, size int
		fmt.Sscan(string(p), &n, &size)
		msg := make([]byte, size)
		for range n {
			if s.Write(ctx, bytesocket.Binary, msg) != nil {
				return
			}
		}
	}
}

func dialBench(b *testing.B, ts *httptest.Server, path, transport string) bytesocket.Socket {
	if transport == "native" {
		transport = client.Plain
	}
	s, err := client.Dial(context.Background(), ts.URL+path, &client.Options{Transport: transport})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closeAndWait(b, s) })
	return s
}

// BenchmarkEcho measures one echo round trip per operation and reports
// its p50 and p99.
func BenchmarkEcho(b *testing.B) {
	for _, t := range benchTransports {
		for _, size := range []int{64, 1024} {
			b.Run(fmt.Sprintf("%s/%d", t, size), func(b *testing.B) {
				rt := roundTripper(b, t)
				msg := make([]byte, size)
				var lat []time.Duration
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					start := time.Now()
					rt(msg)
					lat = append(lat, time.Since(start))
				}
				reportPercentiles(b, lat)
			})
		}
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

func roundTripper(b *testing.B, transport string) func([]byte) {
	if transport == "tcp" {
		return tcpEcho(b)
	}
	s := dialBench(b, benchServer(b), "/echo", transport)
	ctx := context.Background()
	return func(msg []byte) {
		if err := s.Write(ctx, bytesocket.Binary, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// tcpEcho is the baseline: length-prefixed messages over raw loopback TCP.
func tcpEcho(b *testing.B) func([]byte) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			var n uint32
			if binary.Read(r, binary.BigEndian, &n) != nil {
				return
			}
			buf := make([]byte, 4+n)
			binary.BigEndian.PutUint32(buf, n)
			if _, err := io.ReadFull(r, buf[4:]); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	return func(msg []byte) {
		buf := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
		if _, err := c.Write(append(buf, msg...)); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf[:4]); err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(buf))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDownstream measures messages per second from server to client:
// one operation is one 64-byte message.
func BenchmarkDownstream(b *testing.B) {
	for _, t := range benchTransports[1:] {
		b.Run(t, func(b *testing.B) {
			s := dialBench(b, benchServer(b), "/burst", t)
			ctx := context.Background()
			b.SetBytes(64)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			if err := s.Write(ctx, bytesocket.Text, []byte(strconv.Itoa(b.N)+" 64")); err != nil {
				b.Fatal(err)
			}
			for range b.N {
				if _, _, err := s.Read(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}
