package sse_test

// These tests read Ferry's event stream (docs/PROTOCOL.md §5.1) with an
// independent client, github.com/r3labs/sse/v2 (v2.10.0), from a real
// server.Gateway on 127.0.0.1. They check what that reader hands back:
// event ids, data lines, edge payloads, the retry field, the prelude,
// heartbeats, and resuming with Last-Event-ID.
//
// Where the library departs from the WHATWG HTML event-stream rules
// (§9.2 "Server-sent events"), the tests pin what it does, so that an
// upgrade that changes it fails here and the note in PROTOCOL.md §5.1 can
// be updated. The departures found in v2.10.0:
//
//  1. An incomplete event is dispatched. When the body ends or fails in
//     the middle of an event, bufio.Scanner hands the split function the
//     rest with atEOF set, and the library returns it as an event. The
//     spec: "If the file ends in the middle of an event, before the final
//     empty line, the incomplete event is not dispatched." The truncated
//     event's id becomes the library's Last-Event-ID, so a resume skips
//     the frames cut off (TestThirdPartyCutMidEvent).
//  2. An event whose data buffer is empty is dispatched when a last event
//     ID is set (the library copies the last ID into the event first, then
//     tests it for content). The spec: "If the data buffer is an empty
//     string, set the data buffer and the event type buffer to the empty
//     string and return." After a reconnect, Ferry's prelude comment thus
//     reaches the handler as an event with no data.
//  3. No reconnect when a response ends normally: io.EOF ends the
//     subscription with a nil error. The spec reestablishes the
//     connection "whether the connection is closed gracefully or
//     unexpectedly"; Ferry ends every stream after streamBytes with an r
//     frame and counts on that. Subscribing again on the same Client
//     resumes (it keeps LastEventID).
//  4. A response other than 200 is retried under the backoff strategy
//     (by default for up to 15 minutes). The spec fails the connection and
//     does not reconnect; Ferry answers 404 for an expired session.
//  5. The retry field is returned in Event.Retry but never applied: the
//     delay between reconnects comes from ReconnectStrategy. (Read from
//     client.go; not tested, since it is about timing.)
//
// Besides, the library buffers at most 64 KiB per event unless given
// ClientMaxBufferSize; a larger event fails the connection with
// bufio.ErrTooLong, and the reconnect asks for the same event again. The
// spec sets no limit; Ferry's events reach twice maxMessageBytes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
	"github.com/ferrygw/ferry/wire"
	r3 "github.com/r3labs/sse/v2"
	"gopkg.in/cenkalti/backoff.v1"
)

// wait bounds every wait for the server or the library.
const wait = 10 * time.Second

// TestThirdPartyOpenEvent checks the start of a stream: the prelude comment
// dispatches nothing, then one event carries the retry field and the o
// frame, with no id and no event type.
func TestThirdPartyOpenEvent(t *testing.T) {
	f := startFerry(t, emulation.Config{})
	sid, _ := f.open(t)
	r := newReader(t, f.sseURL(sid))
	r.subscribe(t, 0)
	ev := r.next(t)
	if string(ev.Retry) != "1000" {
		t.Errorf("retry = %q, want 1000", ev.Retry)
	}
	if len(ev.ID) != 0 || len(ev.Event) != 0 || len(ev.Comment) != 0 {
		t.Errorf("open event has id %q, event %q, comment %q; want none", ev.ID, ev.Event, ev.Comment)
	}
	var open struct {
		V       int    `json:"v"`
		Session string `json:"session"`
	}
	data, ok := bytes.CutPrefix(ev.Data, []byte("o"))
	if err := json.Unmarshal(data, &open); !ok || err != nil || open.V != 1 || open.Session != sid {
		t.Fatalf("first event data = %q (%v), want the o frame of session %s", ev.Data, err, sid)
	}
}

// TestThirdPartyBatches checks that a batch is one event: a data line per
// frame, which the library joins with LF, and the last frame's number as
// the id.
func TestThirdPartyBatches(t *testing.T) {
	f := startFerry(t, emulation.Config{})
	sid, s := f.open(t)
	msgs := []message{
		{bytesocket.Text, "one"}, {bytesocket.Binary, "\x00\xff"}, {bytesocket.Text, "three\nlines\n"},
		{bytesocket.Text, ""}, {bytesocket.Binary, ""},
	}
	for _, m := range msgs { // before the stream attaches: one batch
		m.write(t, s)
	}
	r := newReader(t, f.sseURL(sid))
	r.subscribe(t, 0)
	r.next(t) // the o event
	ev := r.next(t)
	want := "tone\nbAP8=\ntthree\\nlines\\n\nt\nb"
	if string(ev.ID) != "5" || string(ev.Data) != want {
		t.Fatalf("batch event: id %q data %q, want id 5 data %q", ev.ID, ev.Data, want)
	}
	more := []message{{bytesocket.Text, "six"}, {bytesocket.Text, "seven"}, {bytesocket.Text, "eight"}}
	for _, m := range more { // while attached: any batching
		m.write(t, s)
	}
	got := r.collect(t, 3)
	checkFrames(t, got, 6, more)
}

// TestThirdPartyEdgePayloads writes messages that collide with the
// event-stream syntax one at a time, and checks that each arrives as one
// event whose single data line is exactly the escaped frame.
func TestThirdPartyEdgePayloads(t *testing.T) {
	big := strings.Repeat("line\r\n\\:", 100<<10/8)
	f := startFerry(t, emulation.Config{StreamBytes: 4 << 20})
	sid, s := f.open(t)
	r := newReader(t, f.sseURL(sid), r3.ClientMaxBufferSize(1<<20))
	r.subscribe(t, 0)
	r.next(t) // the o event
	cases := []struct {
		name string
		m    message
	}{
		{"empty", message{bytesocket.Text, ""}},
		{"CR", message{bytesocket.Text, "\r"}},
		{"CRLF", message{bytesocket.Text, "\r\n"}},
		{"LFLF", message{bytesocket.Text, "\n\n"}},
		{"CRCR", message{bytesocket.Text, "a\r\rb"}},
		{"fields", message{bytesocket.Text, "data: x\n\nid: 9\nretry: 1\nevent: e\n: c\n"}},
		{"colon", message{bytesocket.Text, ": not a comment"}},
		{"data prefix", message{bytesocket.Text, "data:"}},
		{"NUL", message{bytesocket.Text, "a\x00b\x00"}},
		{"separators", message{bytesocket.Text, "\u2028\u2029\u0085"}},
		{"astral", message{bytesocket.Text, "😀𝄞\U0010FFFF"}},
		{"backslashes", message{bytesocket.Text, `\n is not a newline \`}},
		{"spaces", message{bytesocket.Text, " leading and trailing "}},
		{"BOM", message{bytesocket.Text, "\uFEFFbom"}},
		{"binary", message{bytesocket.Binary, "\x00\r\n\xff"}},
		{"100 KB", message{bytesocket.Text, big}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.write(t, s)
			ev := r.nextData(t)
			want := tc.m.frame()
			if string(ev.ID) != strconv.Itoa(i+1) || string(ev.Data) != want {
				t.Fatalf("event id %q data %.80q (%d bytes), want id %d data %.80q (%d bytes)",
					ev.ID, ev.Data, len(ev.Data), i+1, want, len(want))
			}
			typ, p, err := wire.ParseFrame(ev.Data)
			if err != nil || typ != tc.m.typ || string(p) != tc.m.data {
				t.Fatalf("frame reads back as %v %.80q, %v", typ, p, err)
			}
		})
	}
}

// TestThirdPartyEventSizeLimit shows the library's default 64 KiB event
// buffer: a 100 KB message fails the connection with bufio.ErrTooLong,
// and each reconnect asks for the same event again.
func TestThirdPartyEventSizeLimit(t *testing.T) {
	f := startFerry(t, emulation.Config{})
	sid, s := f.open(t)
	message{bytesocket.Text, strings.Repeat("x", 100<<10)}.write(t, s)
	r := newReader(t, f.sseURL(sid))
	r.subscribe(t, 2)
	if err := r.wait(t); !errors.Is(err, bufio.ErrTooLong) {
		t.Fatalf("subscription ended with %v, want bufio.ErrTooLong", err)
	}
	if ids := r.tap.requests(); !slices.Equal(ids, []string{"", "", ""}) {
		t.Fatalf("Last-Event-ID of each request: %q, want three requests without one", ids)
	}
}

// TestThirdPartyHeartbeat checks that an idle stream carries h events,
// whose id the library reports as the last event ID, as EventSource's
// lastEventId does.
func TestThirdPartyHeartbeat(t *testing.T) {
	f := startFerry(t, emulation.Config{Heartbeat: 50 * time.Millisecond})
	sid, s := f.open(t)
	r := newReader(t, f.sseURL(sid))
	r.subscribe(t, 0)
	r.next(t) // the o event
	if ev := r.next(t); string(ev.Data) != "h" || len(ev.ID) != 0 {
		t.Fatalf("idle stream sent id %q data %q, want a heartbeat without id", ev.ID, ev.Data)
	}
	message{bytesocket.Text, "hi"}.write(t, s)
	ev := r.next(t)
	for string(ev.Data) == "h" {
		ev = r.next(t)
	}
	if string(ev.ID) != "1" || string(ev.Data) != "thi" {
		t.Fatalf("message event: id %q data %q", ev.ID, ev.Data)
	}
	if ev := r.next(t); string(ev.Data) != "h" || string(ev.ID) != "1" {
		t.Fatalf("heartbeat after a message: id %q data %q, want h with last id 1", ev.ID, ev.Data)
	}
}

// TestThirdPartyReconnect cuts the connection at an event boundary while
// messages flow, and checks that the library's reconnect sends the last id
// it received as Last-Event-ID and that Ferry resumes after it: every
// message arrives once, in order.
func TestThirdPartyReconnect(t *testing.T) {
	f := startFerry(t, emulation.Config{})
	sid, s := f.open(t)
	r := newReader(t, f.sseURL(sid))
	r.tap.cutAt(afterEventWith("CUT"))
	r.subscribe(t, 0)
	r.next(t) // the o event
	var msgs []message
	for i := range 200 {
		text := fmt.Sprintf("message %d", i+1)
		if i == 49 {
			text += " CUT"
		}
		msgs = append(msgs, message{bytesocket.Text, text})
	}
	go func() { // paced, so that the messages spread over many events
		for _, m := range msgs {
			if s.Write(context.Background(), m.typ, []byte(m.data)) != nil {
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	var got []seqFrame
	var lastBeforeCut string
	empty := 0
	for len(got) < len(msgs) {
		ev := r.next(t)
		if len(ev.Data) == 0 {
			empty++ // departure 2: the prelude after the reconnect
			continue
		}
		if bytes.Contains(ev.Data, []byte("CUT")) {
			lastBeforeCut = string(ev.ID) // the cut follows this event
		}
		got = append(got, sequenced(t, ev)...)
	}
	checkFrames(t, got, 1, msgs)
	ids := r.tap.requests()
	if len(ids) != 2 || ids[0] != "" || ids[1] != lastBeforeCut {
		t.Fatalf("Last-Event-ID of each request: %q, want \"\" then %q", ids, lastBeforeCut)
	}
	if n, _ := strconv.Atoi(lastBeforeCut); n < 50 || n >= len(msgs) {
		t.Fatalf("cut after id %s, want the event of message 50, before the last", lastBeforeCut)
	}
	if empty != 1 {
		t.Fatalf("%d events without data, want 1 (the prelude after the reconnect)", empty)
	}
}

// TestThirdPartyCutMidEvent cuts the connection in the middle of a batch.
// A WHATWG reader discards the incomplete event and resumes before it;
// the library dispatches it (departure 1) and resumes after its id, so the
// frames cut off are lost. Ferry's own parser, fed the same bytes,
// dispatches nothing.
func TestThirdPartyCutMidEvent(t *testing.T) {
	f := startFerry(t, emulation.Config{})
	sid, s := f.open(t)
	for _, text := range []string{"alpha", "bravo CUT rest", "charlie"} {
		message{bytesocket.Text, text}.write(t, s)
	}
	r := newReader(t, f.sseURL(sid))
	r.tap.cutAt(after("CUT"))
	r.subscribe(t, 0)
	r.next(t) // the o event
	ev := r.next(t)
	if string(ev.ID) != "3" || string(ev.Data) != "talpha\ntbravo CUT" {
		t.Fatalf("library gave id %q data %q; it no longer dispatches the incomplete event: update the notes",
			ev.ID, ev.Data)
	}
	message{bytesocket.Text, "delta"}.write(t, s)
	ev = r.nextData(t)
	if string(ev.ID) != "4" || string(ev.Data) != "tdelta" {
		t.Fatalf("after the reconnect: id %q data %q, want 4 tdelta", ev.ID, ev.Data)
	}
	if ids := r.tap.requests(); !slices.Equal(ids, []string{"", "3"}) {
		t.Fatalf("Last-Event-ID of each request: %q", ids)
	}

	_, body, _ := bytes.Cut(r.tap.cutBytes(), []byte("\r\n\r\n"))
	var p wire.EventParser
	var events []string
	if err := p.Feed(body, func(ev wire.Event) { events = append(events, string(ev.Data[:1])) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(events, []string{"o"}) || p.LastEventID() != "" {
		t.Fatalf("wire.EventParser dispatched %q, last id %q; want only the o event", events, p.LastEventID())
	}
}

// TestThirdPartyStreamEnd lets Ferry end streams after streamBytes with an
// r frame. The library does not reconnect when a response ends
// (departure 3); subscribing again on the same Client sends Last-Event-ID,
// and Ferry resumes after it with nothing lost or repeated.
func TestThirdPartyStreamEnd(t *testing.T) {
	f := startFerry(t, emulation.Config{StreamBytes: 8 << 10})
	sid, s := f.open(t)
	var msgs []message
	for i := range 20 {
		m := message{bytesocket.Text, fmt.Sprintf("%02d %s", i+1, strings.Repeat("x", 1000))}
		m.write(t, s)
		msgs = append(msgs, m)
	}
	r := newReader(t, f.sseURL(sid))
	var got []seqFrame
	wantIDs := []string{""} // Last-Event-ID of each request: the library's last id when the stream before ended
	for {
		r.subscribe(t, 0)
		for ev := r.next(t); string(ev.Data) != "r"; ev = r.next(t) {
			if got = append(got, sequenced(t, ev)...); len(got) == len(msgs) {
				break
			}
		}
		if len(got) == len(msgs) {
			break
		}
		if err := r.wait(t); err != nil {
			t.Fatalf("subscription ended with %v", err)
		}
		if len(wantIDs) == 10 {
			t.Fatalf("%d streams for %d of %d messages", len(wantIDs), len(got), len(msgs))
		}
		id, _ := r.client.LastEventID.Load().([]byte)
		wantIDs = append(wantIDs, string(id))
	}
	checkFrames(t, got, 1, msgs)
	if ids := r.tap.requests(); !slices.Equal(ids, wantIDs) || len(ids) < 2 {
		t.Fatalf("Last-Event-ID of each request: %q, want %q, more than one", ids, wantIDs)
	}
}

// TestThirdPartyNotFound checks what the library does with Ferry's 404 for
// an unknown session: it retries (departure 4), where EventSource fails
// the connection at once.
func TestThirdPartyNotFound(t *testing.T) {
	f := startFerry(t, emulation.Config{})
	r := newReader(t, f.sseURL("AAAAAAAAAAAAAAAAAAAAAA"))
	r.subscribe(t, 2)
	if err := r.wait(t); err == nil || !strings.Contains(err.Error(), "Not Found") {
		t.Fatalf("subscription ended with %v, want Not Found", err)
	}
	if n := len(r.tap.requests()); n != 3 {
		t.Fatalf("%d requests, want 3 (the first and two retries)", n)
	}
}

// message is a message and its type.
type message struct {
	typ  bytesocket.MessageType
	data string
}

// write sends m on s.
func (m message) write(t *testing.T, s bytesocket.Socket) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.Write(ctx, m.typ, []byte(m.data)); err != nil {
		t.Fatal(err)
	}
}

// frame returns m's frame (PROTOCOL.md §3).
func (m message) frame() string {
	return string(wire.AppendFrame(nil, m.typ, []byte(m.data)))
}

// seqFrame is a sequenced frame and its number.
type seqFrame struct {
	seq  uint64
	line string
}

// sequenced returns the sequenced frames (t, b, c) of ev, numbered back
// from its id (PROTOCOL.md §5.1); it fails the test if ev has such frames
// and no id that can number them.
func sequenced(t *testing.T, ev *r3.Event) []seqFrame {
	t.Helper()
	var out []seqFrame
	for line := range strings.SplitSeq(string(ev.Data), "\n") {
		if line != "" && strings.ContainsRune("tbc", rune(line[0])) {
			out = append(out, seqFrame{line: line})
		}
	}
	if len(out) == 0 {
		return nil
	}
	last, err := strconv.ParseUint(string(ev.ID), 10, 64)
	if err != nil || last < uint64(len(out)) {
		t.Fatalf("event with %d sequenced frames has id %q", len(out), ev.ID)
	}
	for i := range out {
		out[i].seq = last - uint64(len(out)-1-i)
	}
	return out
}

// checkFrames checks that got holds want's frames numbered from first,
// each once and in order.
func checkFrames(t *testing.T, got []seqFrame, first uint64, want []message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i, m := range want {
		if got[i].seq != first+uint64(i) || got[i].line != m.frame() {
			t.Fatalf("frame %d is %d %.40q, want %d %.40q", i, got[i].seq, got[i].line, first+uint64(i), m.frame())
		}
	}
}

// ferry is a real gateway on 127.0.0.1 with an echo service at /echo that
// also hands each new socket to the test, which can then write messages
// itself and so decide how they batch.
type ferry struct {
	base    string
	sockets chan bytesocket.Socket
}

func startFerry(t *testing.T, cfg emulation.Config) *ferry {
	t.Helper()
	f := &ferry{sockets: make(chan bytesocket.Socket, 1)}
	g := server.NewGateway(nil, nil)
	g.Handle("/echo", server.ServiceConfig{Emulation: cfg}, func(s bytesocket.Socket) {
		f.sockets <- s
		server.Echo(s)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln, 100*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-served })
	f.base = "http://" + ln.Addr().String()
	return f
}

// open opens a session with POST /echo/.ferry/open and returns its id and
// the socket the service got.
func (f *ferry) open(t *testing.T) (string, bytesocket.Socket) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{}, Timeout: wait}
	defer c.CloseIdleConnections()
	resp, err := c.Post(f.base+"/echo/.ferry/open", "text/plain;charset=UTF-8", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var open struct{ Session string }
	if err := json.NewDecoder(resp.Body).Decode(&open); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("open: %s, %v", resp.Status, err)
	}
	select {
	case s := <-f.sockets:
		return open.Session, s
	case <-time.After(wait):
		t.Fatal("the service got no socket")
		return "", nil
	}
}

func (f *ferry) sseURL(sid string) string {
	return f.base + "/echo/.ferry/" + sid + "/sse?last=0"
}

// reader is an r3labs/sse client reading one event stream through a tap.
type reader struct {
	client *r3.Client
	tap    *tap
	events chan *r3.Event
	ended  chan struct{} // closed when the current subscription returns
	err    error         // what it returned; set before ended is closed
}

func newReader(t *testing.T, url string, opts ...func(*r3.Client)) *reader {
	tp := newTap()
	c := r3.NewClient(url, opts...)
	c.Connection = &http.Client{Transport: tp}
	t.Cleanup(tp.rt.CloseIdleConnections)
	return &reader{client: c, tap: tp, events: make(chan *r3.Event, 1024)}
}

// subscribe starts a subscription that reconnects after 10 ms, at most
// retries times (0: until the test ends).
func (r *reader) subscribe(t *testing.T, retries uint64) {
	ctx, cancel := context.WithCancel(context.Background())
	b := backoff.WithMaxTries(backoff.NewConstantBackOff(10*time.Millisecond), retries)
	r.client.ReconnectStrategy = backoff.WithContext(b, ctx)
	ended := make(chan struct{})
	r.ended = ended
	go func() {
		defer close(ended)
		r.err = r.client.SubscribeRawWithContext(ctx, func(ev *r3.Event) {
			select {
			case r.events <- ev:
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-ended })
}

// next returns the next event the library dispatched.
func (r *reader) next(t *testing.T) *r3.Event {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-r.ended: // after every event it dispatched was queued
		select {
		case ev := <-r.events:
			return ev
		default:
		}
		t.Fatalf("subscription ended: %v", r.err)
	case <-time.After(wait):
		t.Fatal("no event")
	}
	return nil
}

// nextData returns the next event that holds sequenced frames.
func (r *reader) nextData(t *testing.T) *r3.Event {
	t.Helper()
	for {
		if ev := r.next(t); len(sequenced(t, ev)) > 0 {
			return ev
		}
	}
}

// collect reads events until it has n sequenced frames.
func (r *reader) collect(t *testing.T, n int) []seqFrame {
	t.Helper()
	var got []seqFrame
	for len(got) < n {
		got = append(got, sequenced(t, r.next(t))...)
	}
	return got
}

// wait waits for the subscription to end and returns its error.
func (r *reader) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.ended:
		return r.err
	case <-time.After(wait):
		t.Fatal("the subscription did not end")
		return nil
	}
}

// errCut is what a cut connection's reads return: a network failure, not
// the end of the body.
var errCut = errors.New("test: connection cut")

// tap is the library's transport: it records each request's Last-Event-ID
// and can cut one connection at a point found in what it has read.
type tap struct {
	rt      http.Transport
	mu      sync.Mutex
	lastIDs []string         // guarded by mu
	where   func([]byte) int // guarded by mu; nil when not armed
	cut     []byte           // guarded by mu: what the cut connection read, headers included
}

func newTap() *tap {
	tp := &tap{}
	tp.rt.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := new(net.Dialer).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &cutConn{Conn: c, tap: tp}, nil
	}
	return tp
}

// RoundTrip records r's Last-Event-ID and sends it.
func (tp *tap) RoundTrip(r *http.Request) (*http.Response, error) {
	tp.mu.Lock()
	tp.lastIDs = append(tp.lastIDs, r.Header.Get("Last-Event-ID"))
	tp.mu.Unlock()
	return tp.rt.RoundTrip(r)
}

// requests returns the Last-Event-ID of each request so far ("" for none).
func (tp *tap) requests() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.lastIDs)
}

// cutAt arms the tap: the first connection on which where finds a cut
// point (an offset into everything read on it) is cut there.
func (tp *tap) cutAt(where func([]byte) int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.where = where
}

// cutBytes returns what the cut connection delivered before its cut.
func (tp *tap) cutBytes() []byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.cut
}

// after cuts just after the first occurrence of marker.
func after(marker string) func([]byte) int {
	return func(b []byte) int {
		if i := bytes.Index(b, []byte(marker)); i >= 0 {
			return i + len(marker)
		}
		return -1
	}
}

// afterEventWith cuts after the blank line that ends the event holding
// marker.
func afterEventWith(marker string) func([]byte) int {
	return func(b []byte) int {
		i := bytes.Index(b, []byte(marker))
		if i < 0 {
			return -1
		}
		if j := bytes.Index(b[i:], []byte("\n\n")); j >= 0 {
			return i + j + 2
		}
		return -1
	}
}

// cutConn is a connection a tap may cut: once cut, it is closed and its
// reads fail with errCut.
type cutConn struct {
	net.Conn
	tap *tap
	log []byte // what was read, while the tap is armed
	cut bool
}

func (c *cutConn) Read(p []byte) (int, error) {
	if c.cut {
		return 0, errCut
	}
	n, err := c.Conn.Read(p)
	tp := c.tap
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.where == nil {
		return n, err
	}
	c.log = append(c.log, p[:n]...)
	at := tp.where(c.log)
	if at < 0 {
		return n, err
	}
	tp.where = nil
	tp.cut = c.log[:at]
	c.cut = true
	c.Conn.Close()
	if keep := at - (len(c.log) - n); keep > 0 {
		return keep, nil
	}
	return 0, errCut
}
