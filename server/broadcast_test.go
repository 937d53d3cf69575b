package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/bytesocket/sockettest"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
)

const publishSecret = "s3cret-token"

// feed is a broadcast served at /feed, with its publish endpoint at
// /publish.
type feed struct {
	b   *server.Broadcast
	url string // the gateway's base URL
}

func newFeed(t testing.TB, cfg server.BroadcastConfig, svc server.ServiceConfig) *feed {
	t.Helper()
	b, err := server.NewBroadcast(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := server.NewGateway(nil, nil)
	g.Handle("/feed", svc, b.Accept)
	mux := http.NewServeMux()
	mux.Handle("/publish", b.PublishHandler())
	mux.Handle("/", g)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		b.Close()
		ts.Close()
	})
	return &feed{b: b, url: ts.URL}
}

// subscribe dials n sessions spread over transports, a few at a time,
// and waits until the broadcast holds them all.
func (f *feed) subscribe(t testing.TB, ctx context.Context, n int, transports []string) []bytesocket.Socket {
	t.Helper()
	base := f.b.Subscribers()
	socks := make([]bytesocket.Socket, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range socks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s, err := client.Dial(ctx, f.url+"/feed", &client.Options{Transport: transports[i%len(transports)]})
			socks[i] = s
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for f.b.Subscribers() < base+n && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond) // Accept runs in its own goroutine
	}
	return socks
}

// bmsg is message i of a feed source: its type and payload.
func bmsg(src byte, i int) (bytesocket.MessageType, []byte) {
	typ := bytesocket.Binary
	if src == 'h' && i%2 == 0 {
		typ = bytesocket.Text
	}
	return typ, fmt.Appendf(nil, "%c%05d", src, i)
}

func post(ctx context.Context, url, auth, contentType string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestBroadcastManySessions has sessions over websocket, SSE and
// long-poll receive n UDP datagrams and n HTTP publishes (posted eight at a
// time), every one, in the order the broadcast published them: the order
// an in-process probe subscriber saw.
//
// Sizes: 1,000 sessions × (25 + 25) messages, then 30 sessions × (1,000 +
// 1,000) messages; -short divides the message counts by 5. Under -race on
// two cores a full 1,000 × (1,000 + 1,000) run takes minutes, so it is
// opt-in: FERRY_BROADCAST_FULL=1, which .ci/test sets for a run without
// -race.
func TestBroadcastManySessions(t *testing.T) {
	runs := []struct{ sessions, n int }{{1000, 25}, {30, 1000}}
	if os.Getenv("FERRY_BROADCAST_FULL") != "" {
		runs = []struct{ sessions, n int }{{1000, 1000}}
	} else if testing.Short() {
		runs = []struct{ sessions, n int }{{1000, 5}, {30, 200}}
	}
	for _, r := range runs {
		t.Run(fmt.Sprintf("%dx%d", r.sessions, 2*r.n), func(t *testing.T) { runBroadcast(t, r.sessions, r.n) })
	}
}

func runBroadcast(t *testing.T, sessions, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := newFeed(t, server.BroadcastConfig{UDP: "127.0.0.1:0", PublishSecret: publishSecret}, server.ServiceConfig{})
	probe, end := sockettest.Pipe()
	go f.b.Accept(end)
	for f.b.Subscribers() < 1 {
		time.Sleep(time.Millisecond)
	}
	socks := f.subscribe(t, ctx, sessions, []string{client.WebSocket, client.SSE, client.LongPoll})
	start := time.Now()
	order := newMsgLog() // the probe's view: every message, in order
	errs := make(chan error, sessions)
	for _, s := range socks {
		go func() { errs <- receiveInOrder(ctx, s, 2*n, order) }()
	}
	got := make(chan struct{}, 2*n)
	go func() { // the probe
		for range 2 * n {
			typ, p, err := probe.Read(ctx)
			if err != nil {
				return // the sessions time out and report
			}
			order.add(typ, p)
			got <- struct{}{}
		}
	}()
	sendUDP(t, f, n, got)
	udpDone := time.Since(start)
	postAll(t, ctx, f, n)
	for range socks {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	seen := map[string]bytesocket.MessageType{}
	for _, m := range order.msgs {
		seen[string(m.p)] = m.typ
	}
	for _, src := range []byte{'u', 'h'} {
		for i := range n {
			if typ, p := bmsg(src, i); seen[string(p)] != typ {
				t.Fatalf("the probe did not get %s %q exactly once", typ, p)
			}
		}
	}
	t.Logf("%d sessions × %d messages = %d deliveries in %v (UDP part %v): %.0f/s",
		sessions, 2*n, sessions*2*n, elapsed.Round(time.Millisecond), udpDone.Round(time.Millisecond),
		float64(sessions*2*n)/elapsed.Seconds())
	closeAll(t, socks)
}

// sendUDP sends n datagrams, keeping at most 64 ahead of the probe so
// the kernel's receive buffer never overflows (UDP would drop).
func sendUDP(t *testing.T, f *feed, n int, got <-chan struct{}) {
	udp, err := net.Dial("udp", f.b.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for i := range n {
		if i >= 64 {
			<-got
		}
		_, p := bmsg('u', i)
		if _, err := udp.Write(p); err != nil {
			t.Fatal(err)
		}
	}
}

// postAll publishes n messages over HTTP, eight requests at a time.
func postAll(t *testing.T, ctx context.Context, f *feed, n int) {
	work := make(chan int)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for i := range work {
				typ, p := bmsg('h', i)
				ct := "application/octet-stream"
				if typ == bytesocket.Text {
					ct = "text/plain; charset=utf-8"
				}
				if code, err := post(ctx, f.url+"/publish", "Bearer "+publishSecret, ct, p); err != nil || code != http.StatusOK {
					errs <- fmt.Errorf("publish %d: %d %v", i, code, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// msgLog is an append-only list of messages that readers can wait on.
type msgLog struct {
	mu   sync.Mutex    // guards msgs and wake
	wake chan struct{} // closed and replaced by add
	msgs []logged
}

type logged struct {
	typ bytesocket.MessageType
	p   []byte
}

func newMsgLog() *msgLog { return &msgLog{wake: make(chan struct{})} }

func (l *msgLog) add(typ bytesocket.MessageType, p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, logged{typ, p})
	close(l.wake)
	l.wake = make(chan struct{})
}

// at waits for message i.
func (l *msgLog) at(ctx context.Context, i int) (bytesocket.MessageType, []byte, error) {
	for {
		l.mu.Lock()
		if i < len(l.msgs) {
			m := l.msgs[i]
			l.mu.Unlock()
			return m.typ, m.p, nil
		}
		w := l.wake
		l.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("the probe never got message %d: %w", i, ctx.Err())
		}
	}
}

// receiveInOrder reads n messages from s and checks them against the
// probe's order, and that each source's messages come in sequence.
func receiveInOrder(ctx context.Context, s bytesocket.Socket, n int, order *msgLog) error {
	next := map[byte]int{}
	for i := range n {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return fmt.Errorf("%s: message %d: %w", s.Transport(), i, err)
		}
		wt, wp, err := order.at(ctx, i)
		if err != nil {
			return err
		}
		if len(p) > 0 && p[0] == 'u' { // UDP datagrams keep their sending order
			if _, want := bmsg('u', next['u']); !bytes.Equal(p, want) {
				return fmt.Errorf("%s: got %q, want %q", s.Transport(), p, want)
			}
			next['u']++
		}
		if typ != wt || !bytes.Equal(p, wp) {
			return fmt.Errorf("%s: message %d is %s %q, want %s %q (lost, duplicated or reordered)", s.Transport(), i, typ, p, wt, wp)
		}
	}
	return nil
}

// closeAll closes every socket and waits for the close handshakes.
func closeAll(t testing.TB, socks []bytesocket.Socket) {
	t.Helper()
	for _, s := range socks {
		_ = s.Close(bytesocket.StatusNormalClosure, "")
	}
	for _, s := range socks {
		c, ok := s.(*client.Conn)
		if !ok {
			continue // a plain WebSocket: its Close completes the handshake
		}
		select {
		case <-c.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("close handshake did not finish")
		}
	}
}

// TestBroadcastSlowConsumer has one client that never reads next to one
// reading client per transport. The stalled one is closed with 4012 once
// it is a window plus a queue behind; the others receive every message,
// and the stalled one, drained afterwards, got an in-order prefix. The
// queue is large enough that a reading client whose acknowledgement is
// held up for a while on a loaded machine is not taken for a slow one
// (16 messages were not), and small enough that the stalled one is
// closed long before the last message.
func TestBroadcastSlowConsumer(t *testing.T) {
	const n = 400
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := newFeed(t, server.BroadcastConfig{Queue: 128},
		server.ServiceConfig{Emulation: emulation.Config{WindowBytes: 16 << 10}})
	transports := []string{client.WebSocket, client.SSE, client.LongPoll}
	socks := f.subscribe(t, ctx, len(transports)+1, append(transports, client.LongPoll))
	stalled, healthy := socks[len(transports)], socks[:len(transports)]

	got := make(chan error, n*len(healthy))
	for _, s := range healthy {
		go func() {
			for i := range n {
				_, p, err := s.Read(ctx)
				if err == nil && !bytes.Equal(p, slowMsg(i)) {
					err = fmt.Errorf("%s: message %d is %.20q", s.Transport(), i, p)
				} else if err != nil {
					err = fmt.Errorf("%s: message %d: %w", s.Transport(), i, err)
				}
				got <- err
				if err != nil {
					return
				}
			}
		}()
	}
	for i := range n { // in step with the healthy readers
		if err := f.b.Publish(ctx, bytesocket.Binary, slowMsg(i)); err != nil {
			t.Fatal(err)
		}
		for range healthy {
			if err := <-got; err != nil {
				t.Fatal(err)
			}
		}
	}
	if s := f.b.Subscribers(); s != len(healthy) {
		t.Fatalf("%d subscribers left, want %d", s, len(healthy))
	}
	for i := 0; ; i++ {
		_, p, err := stalled.Read(ctx)
		if err != nil {
			if bytesocket.CloseStatus(err) != bytesocket.StatusSlowConsumer {
				t.Fatalf("stalled client: after %d messages: %v, want close 4012", i, err)
			}
			t.Logf("stalled client received %d of %d messages, then 4012", i, n)
			break
		}
		if !bytes.Equal(p, slowMsg(i)) {
			t.Fatalf("stalled client: message %d is %.20q", i, p)
		}
	}
	closeAll(t, healthy)
}

func slowMsg(i int) []byte {
	return append(fmt.Appendf(nil, "%05d", i), bytes.Repeat([]byte{'.'}, 1019)...)
}

// TestBroadcastPublishHandler checks the publish endpoint's answers and
// that only an authorized body is published, with its type.
func TestBroadcastPublishHandler(t *testing.T) {
	b, err := server.NewBroadcast(server.BroadcastConfig{PublishSecret: publishSecret, MaxMessageBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sub, end := sockettest.Pipe()
	go b.Accept(end)
	for b.Subscribers() < 1 {
		time.Sleep(time.Millisecond)
	}
	h := b.PublishHandler()
	cases := []struct {
		name, method, auth, ctype, body string
		want                            int
		published                       bytesocket.MessageType // 0: nothing
	}{
		{"no token", "POST", "", "text/plain", "a", http.StatusUnauthorized, 0},
		{"wrong token", "POST", "Bearer nope", "text/plain", "b", http.StatusUnauthorized, 0},
		{"token prefix", "POST", "Bearer " + publishSecret[:4], "text/plain", "c", http.StatusUnauthorized, 0},
		{"basic auth", "POST", "Basic " + publishSecret, "text/plain", "d", http.StatusUnauthorized, 0},
		{"GET", "GET", "Bearer " + publishSecret, "", "", http.StatusMethodNotAllowed, 0},
		{"too big", "POST", "Bearer " + publishSecret, "text/plain", strings.Repeat("x", 17), http.StatusRequestEntityTooLarge, 0},
		{"text not utf-8", "POST", "Bearer " + publishSecret, "text/plain", "\xff", http.StatusUnsupportedMediaType, 0},
		{"text", "POST", "Bearer " + publishSecret, "text/plain; charset=utf-8", "hello", http.StatusOK, bytesocket.Text},
		{"binary", "POST", "Bearer " + publishSecret, "application/octet-stream", "\x00\xff", http.StatusOK, bytesocket.Binary},
		{"no content type", "POST", "Bearer " + publishSecret, "", "raw", http.StatusOK, bytesocket.Binary},
		{"max size", "POST", "Bearer " + publishSecret, "", strings.Repeat("y", 16), http.StatusOK, bytesocket.Binary},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/publish", strings.NewReader(tc.body))
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			// A marker published after each request shows whether the
			// request published anything before it.
			if err := b.Publish(ctx, bytesocket.Text, []byte("marker")); err != nil {
				t.Fatal(err)
			}
			typ, p, err := sub.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.published != 0 {
				if typ != tc.published || string(p) != tc.body {
					t.Fatalf("published %s %q, want %s %q", typ, p, tc.published, tc.body)
				}
				typ, p, err = sub.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
			}
			if string(p) != "marker" {
				t.Fatalf("published %s %q, want nothing", typ, p)
			}
		})
	}
}

// TestBroadcastClose checks that Close closes subscribers with 1001 and
// that later subscribers are refused the same way.
func TestBroadcastClose(t *testing.T) {
	b, err := server.NewBroadcast(server.BroadcastConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, end := sockettest.Pipe()
	done := make(chan struct{})
	go func() { b.Accept(end); close(done) }()
	for b.Subscribers() < 1 {
		time.Sleep(time.Millisecond)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	after, end2 := sockettest.Pipe()
	b.Accept(end2)
	for _, s := range []bytesocket.Socket{before, after} {
		if _, _, err := s.Read(ctx); bytesocket.CloseStatus(err) != bytesocket.StatusGoingAway {
			t.Fatalf("Read = %v, want close 1001", err)
		}
	}
	if err := b.Publish(ctx, bytesocket.Text, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, bytesocket.Text, []byte("\xff")); !errors.Is(err, bytesocket.ErrInvalidUTF8) {
		t.Fatalf("Publish of invalid text = %v, want ErrInvalidUTF8", err)
	}
}

// ExampleBroadcast serves a feed at /feed of a gateway, fed by UDP
// datagrams and by authorized POSTs to /publish.
func ExampleBroadcast() {
	b, err := server.NewBroadcast(server.BroadcastConfig{PublishSecret: "change me"})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	g := server.NewGateway(nil, nil)
	g.Handle("/feed", server.ServiceConfig{}, b.Accept)
	mux := http.NewServeMux()
	mux.Handle("/publish", b.PublishHandler())
	mux.Handle("/", g)

	// A subscriber, here an in-memory one.
	sub, end := sockettest.Pipe()
	go b.Accept(end)
	for b.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	r := httptest.NewRequest("POST", "/publish", strings.NewReader("hello, everyone"))
	r.Header.Set("Authorization", "Bearer change me")
	r.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	typ, p, _ := sub.Read(context.Background())
	fmt.Println(w.Code, typ, string(p))
	// Output: 200 text hello, everyone
}

// ExampleProxy serves an MQTT broker to browsers at /mqtt.
func ExampleProxy() {
	g := server.NewGateway(nil, nil)
	g.Handle("/mqtt", server.ServiceConfig{Protocols: []string{"mqtt"}},
		server.Proxy(server.ProxyConfig{Connect: "tcp://127.0.0.1:1883"}))
	_ = http.ListenAndServe // http.ListenAndServe(":8080", g)
}
