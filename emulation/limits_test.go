package emulation

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
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
			_, err := c.DeliverEach(ctx, 1, func() (Frame, bool, error) {
				if offered == 1<<20 {
					return Frame{}, false, nil
				}
				offered++
				return Frame{Kind: KindText, Data: []byte{}}, true, nil
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

// TestBodyReaderStreams checks that the upstream body parser hands out
// frames as it reads them, long lines included, and stops at the frame
// limit.
func TestBodyReaderStreams(t *testing.T) {
	long := strings.Repeat("x", 100<<10) // over the reader's buffer
	body := "ta\n" + "t" + long + "\nc1000 bye"
	b := newBodyReader(strings.NewReader(body), 0)
	var got []string
	for {
		f, ok, err := b.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, string(f.Kind)+string(f.Data))
	}
	want := []string{"ta", "t" + long, "cbye"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("frames %.20q, want %.20q", got, want)
	}

	b = newBodyReader(strings.NewReader(strings.Repeat("t\n", 5)), 4)
	n := 0
	for {
		_, ok, err := b.next()
		if !ok {
			if n != 4 || !errors.Is(err, ErrTooManyFrames) {
				t.Fatalf("%d frames then %v, want 4 then ErrTooManyFrames", n, err)
			}
			break
		}
		n++
	}
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

// TestProtocolOfferLimits checks the subprotocol offer caps on the query
// parameter and the header alike.
func TestProtocolOfferLimits(t *testing.T) {
	list := func(n int) string {
		l := make([]string, n)
		for i := range l {
			l[i] = "p" + strconv.Itoa(i)
		}
		return strings.Join(l, ",")
	}
	if p, err := ParseProtocols(list(MaxProtocols)); err != nil || len(p) != MaxProtocols {
		t.Fatalf("%d protocols: %d, %v", MaxProtocols, len(p), err)
	}
	for _, s := range []string{list(MaxProtocols + 1), list(40000), "a," + strings.Repeat("b", MaxProtocolBytes)} {
		if _, err := ParseProtocols(s); !errors.Is(err, ErrBadProtocol) {
			t.Errorf("offer of %d bytes: %v, want ErrBadProtocol", len(s), err)
		}
	}
	h := http.Header{}
	for range MaxProtocols + 1 {
		h.Add("Sec-WebSocket-Protocol", "x"+strconv.Itoa(len(h.Values("Sec-WebSocket-Protocol"))))
	}
	if _, err := ProtocolsFromHeader(h); !errors.Is(err, ErrBadProtocol) {
		t.Errorf("65 header lines: %v, want ErrBadProtocol", err)
	}
}

// BenchmarkParseProtocols shows the cost of an offer is linear in its
// length up to the cap, and a refused offer costs next to nothing.
func BenchmarkParseProtocols(b *testing.B) {
	for _, n := range []int{4, 64, 40000} {
		var buf bytes.Buffer
		for i := range n {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString("proto" + strconv.Itoa(i))
		}
		s := buf.String()
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				_, _ = ParseProtocols(s)
			}
		})
	}
}
