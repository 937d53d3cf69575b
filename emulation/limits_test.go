package emulation

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/ferrygw/ferry/wire"
)

// TestInboundChargesEmptyMessages checks that a flood of empty messages
// fills the inbound queue at MessageOverhead bytes each and then waits, so
// memory stays bounded while the application does not read.
func TestInboundChargesEmptyMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewChannel(Config{})
		ctx, cancel := context.WithCancel(context.Background())
		offered := 0
		done := make(chan error, 1)
		go func() {
			_, err := c.DeliverEach(ctx, 1, func() (wire.Frame, bool, error) {
				if offered == 1<<20 {
					return wire.Frame{}, false, nil
				}
				offered++
				return wire.Frame{Kind: wire.KindText, Data: []byte{}}, true, nil
			})
			done <- err
		}()
		synctest.Wait()
		want := uint64(DefaultInboundBytes / MessageOverhead)
		if got := c.Received(); got != want {
			t.Fatalf("queued %d empty messages before waiting, want %d", got, want)
		}
		if _, _, err := c.Read(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := c.Received(); got != want+1 {
			t.Fatalf("one read made room for %d messages, want 1", got-want)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("DeliverEach: %v, want context.Canceled", err)
		}
	})
}

// TestKeepHeader checks that a session keeps at most HeaderBytes of its
// opening request's headers, whole fields in name order, in fresh memory.
func TestKeepHeader(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer x")
	h.Set("Cookie", strings.Repeat("c", 1<<20))
	h.Set("User-Agent", "test")
	h.Add("X-Many", "1")
	h.Add("X-Many", "2")
	kept := KeepHeader(h, 5*HeaderFieldOverhead+64)
	if kept.Get("Cookie") != "" {
		t.Errorf("a 1 MiB cookie was kept")
	}
	if kept.Get("Authorization") != "Bearer x" || kept.Get("User-Agent") != "test" || len(kept.Values("X-Many")) != 2 {
		t.Errorf("kept %v, want the small fields", kept)
	}
	size := 0
	for k, vs := range kept {
		for _, v := range vs {
			size += len(k) + len(v) + HeaderFieldOverhead
		}
	}
	if size > 5*HeaderFieldOverhead+64 {
		t.Errorf("kept %d bytes, want at most %d", size, 5*HeaderFieldOverhead+64)
	}
	if len(KeepHeader(h, HeaderFieldOverhead+6)) != 0 {
		t.Errorf("KeepHeader kept fields larger than its budget")
	}
}
