package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
)

const (
	// h2Sessions is how many sessions a page opens: more than the six
	// HTTP/1.1 connections a browser allows per host.
	h2Sessions = 10
	// h2StallWait is how long a session is given to open before it counts
	// as waiting: generous, since one opens in milliseconds on loopback.
	h2StallWait = 5 * time.Second
)

// h2Page is the page of TestHTTP2: H2.open(transport) opens a session on
// the greeting service, which sends "hello" first and then echoes; the
// page answers "hello" with a message of its own and records the echo.
// H2.native() opens a native WebSocket to the same service.
const h2Page = `<!doctype html>
<meta charset="utf-8">
<title>ferry h2</title>
<script src="/client.js"></script>
<script>
var H2 = {socks: []};
H2.open = function (transport) {
  var i = H2.socks.length, msg = 'echo ' + i;
  var st = {opened: false, greeted: false, echoed: false, error: false, closed: false, transport: ''};
  var ws = transport === 'native' ? new WebSocket('wss://' + location.host + '/greet')
    : new Ferry.WebSocket('/greet', [], {transports: [transport], remember: false});
  ws.onopen = function () { st.opened = true; st.transport = ws.transport || 'native'; };
  ws.onmessage = function (e) {
    if (e.data === 'hello') {
      st.greeted = true;
      ws.send(msg);
    } else if (e.data === msg) {
      st.echoed = true;
    }
  };
  ws.onerror = function () { st.error = true; };
  ws.onclose = function () { st.closed = true; };
  st.ws = ws;
  H2.socks.push(st);
  return i;
};
H2.state = function () {
  return JSON.stringify(H2.socks.map(function (s) {
    return {opened: s.opened, greeted: s.greeted, echoed: s.echoed, error: s.error, closed: s.closed,
      transport: s.transport, readyState: s.ws.readyState};
  }));
};
</script>
`

// h2Sock is one socket of the h2 page, as H2.state() reports it.
type h2Sock struct {
	Opened     bool   `json:"opened"`
	Greeted    bool   `json:"greeted"`
	Echoed     bool   `json:"echoed"`
	Error      bool   `json:"error"`
	Closed     bool   `json:"closed"`
	Transport  string `json:"transport"`
	ReadyState int    `json:"readyState"`
}

// TestHTTP2 opens 10 sessions, one after another, from a page served over
// TLS by the gateway that serves them, on SSE and then on long-poll.
//
// With h2 offered by ALPN (as the ferry command offers it), every session
// opens and exchanges messages: their event streams, polls and POSTs are
// streams of one HTTP/2 connection. A native WebSocket and a Ferry
// WebSocket still open beside it, on HTTP/1.1 connections of their own.
//
// With an HTTP/1.1-only listener (the ferry command before HTTP/2) the
// browser's six connections per host are the limit: six sessions open and
// each holds a connection with its stream or held poll, and the seventh
// and later ones do not open at all: their POST open waits in the browser
// and never reaches the server.
func TestHTTP2(t *testing.T) {
	needBrowser(t)
	bctx, stop, err := launchBrowser(chromedp.Flag("ignore-certificate-errors", true))
	t.Cleanup(stop)
	if err != nil {
		t.Fatalf("browser that accepts a self-signed certificate: %v", err)
	}
	cert := selfSignedCert(t)
	for _, l := range []struct {
		name       string
		nextProtos []string
	}{
		{"h2", []string{"h2", "http/1.1"}},
		{"http1", []string{"http/1.1"}},
	} {
		for _, tr := range []string{"sse", "longpoll"} {
			t.Run(l.name+"/"+tr, func(t *testing.T) {
				gw := startH2Gateway(t, cert, l.nextProtos)
				tb := newTabIn(t, bctx)
				responses := watchResponses(tb)
				tb.openH2Page(gw.url + "/")
				socks := openSessions(tb, tr)
				if l.name == "h2" {
					checkH2(t, tb, gw, responses)
				} else {
					checkHTTP1(t, gw, socks, responses)
				}
			})
		}
	}
}

// openSessions opens h2Sessions sessions on transport one after another,
// each once the one before has its greeting. Once one has not opened
// within h2StallWait, it opens the rest at once and gives them
// h2StallWait too. It returns the page's sockets.
func openSessions(tb *tab, transport string) []h2Sock {
	stalled := false
	for i := range h2Sessions {
		eval[int](tb, fmt.Sprintf("H2.open(%q)", transport))
		if !stalled {
			stalled = !tb.waitH2(h2StallWait, func(s []h2Sock) bool { return s[i].Greeted })
		}
	}
	if stalled {
		time.Sleep(h2StallWait)
	}
	return tb.h2Socks()
}

// checkH2 checks that every session opened and exchanged messages over
// one HTTP/2 connection, then that WebSockets still open beside it.
func checkH2(t *testing.T, tb *tab, gw *h2Gateway, responses *responseLog) {
	tb.waitH2(30*time.Second, func(s []h2Sock) bool { return countSocks(s, func(s h2Sock) bool { return s.Echoed }) == h2Sessions })
	socks := tb.h2Socks()
	for i, s := range socks {
		if !s.Opened || !s.Greeted || !s.Echoed || s.Error || s.Closed {
			t.Errorf("session %d over h2: %+v; want opened, greeted and echoed", i, s)
		}
	}
	protos, conns := responses.ferry()
	if len(protos) != 1 || protos["h2"] == 0 || conns != 1 {
		t.Errorf("Ferry's requests: %v by protocol, over %d connections; want h2 only, over 1", protos, conns)
	}
	if n := gw.sessions.Load(); n != h2Sessions {
		t.Errorf("the server opened %d sessions; want %d", n, h2Sessions)
	}
	t.Logf("%d sessions over %d TCP connection(s) (%d accepted)", len(socks), gw.conns.open.Load(), gw.conns.total.Load())

	// WebSockets open HTTP/1.1 connections of their own: the browser does
	// not ask for WebSocket over HTTP/2 where the server does not offer it
	// (RFC 8441).
	for _, tr := range []string{"native", "websocket"} {
		i := eval[int](tb, fmt.Sprintf("H2.open(%q)", tr))
		if !tb.waitH2(30*time.Second, func(s []h2Sock) bool { return s[i].Echoed || s[i].Error }) || tb.h2Socks()[i].Transport != tr {
			t.Errorf("%s WebSocket beside the h2 connection: %+v; want it to open on %s and exchange messages", tr, tb.h2Socks()[i], tr)
		}
	}
}

// checkHTTP1 checks that six sessions opened, each holding a connection,
// and that the rest wait for one, unopened and without an error.
func checkHTTP1(t *testing.T, gw *h2Gateway, socks []h2Sock, responses *responseLog) {
	const perHost = 6 // the browser's HTTP/1.1 connections per host
	for i, s := range socks {
		switch {
		case i < perHost && !(s.Opened && s.Greeted):
			t.Errorf("session %d over HTTP/1.1: %+v; want open, with its greeting", i, s)
		case i >= perHost && (s.Opened || s.Error || s.Closed || s.ReadyState != 0):
			t.Errorf("session %d over HTTP/1.1: %+v; want it still connecting", i, s)
		}
	}
	if n := gw.sessions.Load(); n != perHost {
		t.Errorf("the server opened %d sessions; want %d (the POST open of the others waits in the browser)", n, perHost)
	}
	if n := gw.conns.open.Load(); n != perHost {
		t.Errorf("%d TCP connections open; want %d, each held by a session's stream or poll", n, perHost)
	}
	if protos, _ := responses.ferry(); len(protos) != 1 || protos["http/1.1"] == 0 {
		t.Errorf("Ferry's requests by protocol: %v; want http/1.1 only", protos)
	}
	t.Logf("over HTTP/1.1: %d of %d sessions opened within %v, on %d TCP connections",
		countSocks(socks, func(s h2Sock) bool { return s.Opened }), len(socks), h2StallWait, gw.conns.open.Load())
}

func countSocks(socks []h2Sock, f func(h2Sock) bool) int {
	n := 0
	for _, s := range socks {
		if f(s) {
			n++
		}
	}
	return n
}

// h2Socks returns the page's sockets.
func (tb *tab) h2Socks() []h2Sock {
	tb.t.Helper()
	var socks []h2Sock
	if err := json.Unmarshal([]byte(eval[string](tb, "H2.state()")), &socks); err != nil {
		tb.t.Fatal(err)
	}
	return socks
}

// waitH2 polls the page's sockets until ok holds, for at most d, and
// reports whether it held.
func (tb *tab) waitH2(d time.Duration, ok func([]h2Sock) bool) bool {
	tb.t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if ok(tb.h2Socks()) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// openH2Page loads url and waits for the h2 page's script.
func (tb *tab) openH2Page(url string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tb.t.Fatalf("navigating to %s: %v", url, err)
	}
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof H2 === "object" && typeof Ferry === "object"`)); err != nil || !ok {
		tb.t.Fatalf("%s: page not loaded (err %v)", url, err)
	}
}

// responseLog records the protocol and connection of every response the
// tab receives for Ferry's HTTP requests (URLs with /.ferry/).
type responseLog struct {
	mu     sync.Mutex // guards protos, conns
	protos map[string]int
	conns  map[float64]bool
}

func watchResponses(tb *tab) *responseLog {
	l := &responseLog{protos: map[string]int{}, conns: map[float64]bool{}}
	ctx, cancel := context.WithCancel(tb.ctx)
	tb.t.Cleanup(cancel)
	events := chromedp.Events(ctx, network.ResponseReceived)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			if r := ev.Response; strings.Contains(r.URL, "/.ferry/") {
				l.mu.Lock()
				l.protos[r.Protocol]++
				l.conns[r.ConnectionID] = true
				l.mu.Unlock()
			}
		}
	}()
	return l
}

// ferry returns the responses by protocol and the number of connections
// they came on.
func (l *responseLog) ferry() (map[string]int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	protos := make(map[string]int, len(l.protos))
	for k, v := range l.protos {
		protos[k] = v
	}
	return protos, len(l.conns)
}

// h2Gateway is a gateway serving the h2 page and the greeting service
// over TLS, with Gateway.Serve.
type h2Gateway struct {
	url      string
	sessions atomic.Int32 // sessions the greeting service accepted, WebSockets included
	conns    *connCounter
}

// startH2Gateway serves a gateway over TLS with cert, offering nextProtos
// by ALPN, until the test ends.
func startH2Gateway(t *testing.T, cert tls.Certificate, nextProtos []string) *h2Gateway {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(h2Page), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &h2Gateway{}
	g := server.NewGateway(nil, logger())
	g.ServeStatic(dir)
	// Nothing ends a stream or a poll while the test looks at them.
	cfg := server.ServiceConfig{Protocols: []string{"*"}, Emulation: emulation.Config{Heartbeat: time.Minute, PollHold: time.Minute}}
	g.Handle("/greet", cfg, func(s bytesocket.Socket) {
		h.sessions.Add(1)
		greet(s)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.conns = &connCounter{Listener: ln}
	h.url = "https://" + ln.Addr().String()
	tln := tls.NewListener(h.conns, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: nextProtos})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, tln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

// greet sends "hello", then echoes every message.
func greet(s bytesocket.Socket) {
	ctx := context.Background()
	if err := s.Write(ctx, bytesocket.Text, []byte("hello")); err != nil {
		return
	}
	for {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		if err := s.Write(ctx, typ, p); err != nil {
			return
		}
	}
}

// connCounter counts the TCP connections it accepts and those still open.
type connCounter struct {
	net.Listener
	open, total atomic.Int32
}

func (l *connCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	l.total.Add(1)
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *connCounter
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// selfSignedCert returns a certificate for 127.0.0.1, signed by itself.
func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ferry e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
