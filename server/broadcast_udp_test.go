package server_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

// udpFrom sends p to the feed from a socket bound to the address from.
func udpFrom(t *testing.T, f *feed, from string, p string) {
	t.Helper()
	c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(from+":0")),
		net.UDPAddrFromAddrPort(netip.MustParseAddrPort(f.b.UDPAddr().String())))
	if err != nil {
		t.Skipf("cannot send from %s: %v", from, err) // 127.0.0.2 is loopback on Linux only
	}
	defer c.Close()
	if _, err := c.Write([]byte(p)); err != nil {
		t.Fatal(err)
	}
}

// TestBroadcastUDPSources sends the feed a datagram from a source outside
// UDPSources (127.0.0.2, with 127.0.0.1/32 allowed), which is dropped and
// counted, and one from inside, which subscribers get.
func TestBroadcastUDPSources(t *testing.T) {
	f := newFeed(t, server.BroadcastConfig{
		UDP: "127.0.0.1:0", UDPSources: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}, server.ServiceConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub := f.subscribe(t, ctx, 1, []string{client.WebSocket})[0]
	defer closeAndWait(t, sub)

	udpFrom(t, f, "127.0.0.2", "spoofed")
	for f.b.UDPDropped() == 0 {
		if ctx.Err() != nil {
			t.Fatal("the datagram from 127.0.0.2 was not counted as dropped")
		}
		time.Sleep(5 * time.Millisecond)
	}
	udpFrom(t, f, "127.0.0.1", "genuine")
	if _, p, err := sub.Read(ctx); err != nil || string(p) != "genuine" {
		t.Fatalf("first message: %q %v, want the allowed source's", p, err)
	}
	if n := f.b.UDPDropped(); n != 1 {
		t.Errorf("UDPDropped = %d, want 1", n)
	}
}

// TestBroadcastUDPSourcesDefault checks the default: all of loopback.
func TestBroadcastUDPSourcesDefault(t *testing.T) {
	f := newFeed(t, server.BroadcastConfig{UDP: "127.0.0.1:0"}, server.ServiceConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub := f.subscribe(t, ctx, 1, []string{client.WebSocket})[0]
	defer closeAndWait(t, sub)
	udpFrom(t, f, "127.0.0.2", "from loopback")
	if _, p, err := sub.Read(ctx); err != nil || string(p) != "from loopback" {
		t.Fatalf("got %q %v", p, err)
	}
}
