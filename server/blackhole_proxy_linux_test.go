//go:build linux

package server_test

import (
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/server"
)

// fullBacklog returns the address of a listener that never accepts and
// whose accept queue is full, so that Linux drops further SYNs: a dial to
// it hangs until its timeout, like a back end behind a black hole.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "backlog")
	ln, err := net.FileListener(f) // dups fd
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	for i := 0; ; i++ { // fill the queue until a dial times out
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
		if i > 64 {
			t.Skip("the accept queue never filled")
		}
	}
}

// TestProxyBackendNeverAccepts checks that a back end whose dial hangs
// fails the session with 1014 once DialTimeout has passed.
func TestProxyBackendNeverAccepts(t *testing.T) {
	url := proxyGateway(t, server.ProxyConfig{Connect: "tcp://" + fullBacklog(t), DialTimeout: 300 * time.Millisecond})
	for _, tr := range proxyTransports {
		t.Run(tr, func(t *testing.T) {
			expectClose(t, dialProxy(t, url, tr), bytesocket.StatusBadGateway, "timeout")
		})
	}
}
