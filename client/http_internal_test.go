package client

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/wire"
)

// TestHandleEvent checks the reading of event-stream and long-poll events
// (PROTOCOL.md §5.1): a frame per data line, sequenced frames numbered up
// to the event id, frames already received skipped, a trailing r asking
// for the next request, and malformed events refused.
func TestHandleEvent(t *testing.T) {
	c := newConn(&url.URL{}, &Options{}, wire.OpenInfo{MaxMessage: 1 << 20, WindowBytes: 1 << 20}, nil)
	ctx := context.Background()
	steps := []struct {
		id, data string
		again    bool
		recv     uint64
	}{
		{"", "h", false, 0},
		{"1", "tone", false, 1},
		{"3", "ttwo\nbAw==", false, 3},            // frames 2 and 3
		{"3", "ttwo\nbAw==", false, 3},            // the same event again
		{"5", "bAw==\ntfour\nh\ntfive", false, 5}, // 3 is a duplicate; h between
		{"6", "tsix\nr", true, 6},                 // a stream's last event
		{"", "r", true, 6},
	}
	for _, st := range steps {
		again, err := c.handleEvent(ctx, st.id, []byte(st.data))
		if err != nil || again != st.again || c.Received() != st.recv {
			t.Fatalf("handleEvent(%q, %q) = %v, %v, received %d; want %v, nil, %d",
				st.id, st.data, again, err, c.Received(), st.again, st.recv)
		}
	}
	for _, want := range []string{"one", "two", "\x03", "four", "five", "six"} {
		_, p, err := c.Read(ctx)
		if err != nil || string(p) != want {
			t.Fatalf("Read = %q, %v; want %q", p, err, want)
		}
	}
	for _, bad := range []struct {
		id, data string
		want     error
	}{
		{"", "", wire.ErrBadFrame},
		{"8", "tx\n\nty", wire.ErrBadFrame},       // an empty line
		{"7", "tx\n", wire.ErrBadFrame},           // a trailing empty line
		{"1", "tx\nty", wire.ErrBadFrame},         // fewer numbers than frames
		{"", "tx", wire.ErrBadFrame},              // a sequenced frame without an id
		{"7", "x7", wire.ErrBadFrame},             // an unknown kind
		{"9", "tx", emulation.ErrSeqGap},          // 7 and 8 missing
		{"7", "t\xff", bytesocket.ErrInvalidUTF8}, // the session is then failed by the caller
	} {
		if _, err := c.handleEvent(ctx, bad.id, []byte(bad.data)); !errors.Is(err, bad.want) {
			t.Errorf("handleEvent(%q, %q) = %v; want %v", bad.id, bad.data, err, bad.want)
		}
	}
	if c.Received() != 6 {
		t.Errorf("received %d after the bad events; want 6", c.Received())
	}
}
