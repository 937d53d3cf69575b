package wire

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

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
	var lines []string // Sec-WebSocket-Protocol header lines
	for i := range MaxProtocols + 1 {
		lines = append(lines, "x"+strconv.Itoa(i))
	}
	if _, err := ParseProtocolHeader(lines); !errors.Is(err, ErrBadProtocol) {
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

// TestParseVersion checks the v parameter (PROTOCOL.md §2): absent is
// version 1, a list picks the highest version spoken, and the errors name
// what went wrong.
func TestParseVersion(t *testing.T) {
	tests := []struct {
		query string
		want  int
		err   string
	}{
		{"", 1, ""},
		{"v=1", 1, ""},
		{"v=1,7", 1, ""},
		{"v=7,+1", 1, ""},
		{"v=7", 0, "ferry: unsupported protocol version: this server speaks 1"},
		{"v=", 0, "ferry: malformed number: v"},
		{"v=01", 0, "ferry: malformed number: v"},
		{"v=1,x", 0, "ferry: malformed number: v"},
		{"v=10000", 0, "ferry: malformed number: v"},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseVersion(q)
		if msg := fmt.Sprint(err); got != tt.want || (tt.err == "" && err != nil) || (tt.err != "" && msg != tt.err) {
			t.Errorf("ParseVersion(%q) = %d, %v; want %d, %q", tt.query, got, err, tt.want, tt.err)
		}
	}
}
