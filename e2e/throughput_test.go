package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
)

// throughputMessages is the burst of TestThroughputBurst: several times
// the retention window in messages and in bytes, so that it completes only
// if the client's acknowledgements keep the window open.
const throughputMessages = 20000

// throughputPayload is message i of a burst; payload in throughput.js
// checks it.
func throughputPayload(i int) []byte {
	n := i * 7 % 251
	p := make([]byte, 4+n)
	binary.BigEndian.PutUint32(p, uint32(i))
	for k := range n {
		p[4+k] = byte(i + k)
	}
	return p
}

// burstService answers "down N" with N binary messages and then the text
// "done N"; it echoes anything else.
func burstService(s bytesocket.Socket) {
	ctx := context.Background()
	for {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		if rest, ok := strings.CutPrefix(string(p), "down "); ok && typ == bytesocket.Text {
			n, _ := strconv.Atoi(rest)
			for i := range n {
				if s.Write(ctx, bytesocket.Binary, throughputPayload(i)) != nil {
					return
				}
			}
			p = []byte("done " + rest)
		}
		if s.Write(ctx, typ, p) != nil {
			return
		}
	}
}

type burstPage struct {
	Opened, Done    bool
	Received, Bad   int
	FirstBad, Error string
	Transport       string
	MS, Closes      int
}

// TestThroughputBurst streams a burst of binary messages of every size
// from 4 to 254 bytes down each transport (the event stream read by
// EventSource, by XHR streaming and by fetch streaming) and checks that
// every message arrives once, in order and intact, with no error. The
// retention window is small (256 messages, 64 KiB) and the burst 20,000
// messages (2.5 MB), so the burst finishes only if the client
// acknowledges as it reads. It logs the rates, which are measurements,
// not assertions (the server runs under -race in CI).
func TestThroughputBurst(t *testing.T) {
	needBrowser(t)
	g := server.NewGateway([]string{env.pagesURL}, logger())
	g.Handle("/burst", server.ServiceConfig{Emulation: emulation.Config{
		WindowMessages: 256, WindowBytes: 64 << 10,
	}}, burstService)
	addr := serveLoopback(t, g)
	tb := newTab(t)
	var report strings.Builder
	for _, tc := range []struct {
		name        string
		transport   string
		eventSource bool
		fetchStream any
	}{
		{"websocket", "websocket", true, "auto"},
		{"sse", "sse", true, false},
		{"sse-xhr", "sse", false, false},
		{"sse-fetch", "sse", false, true},
		{"longpoll", "longpoll", true, "auto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb.open(env.pagesURL + "/e2e/throughput.html")
			eval[any](tb, fmt.Sprintf(`Burst.start({url: %q, transports: [%q], eventSource: %v, fetchStream: %#v, n: %d}), 0`,
				"ws://"+addr+"/burst", tc.transport, tc.eventSource, tc.fetchStream, throughputMessages))
			st := pollPage[burstPage](tb, "Burst.state()", 3*time.Minute, func(p burstPage) bool { return p.Done })
			switch {
			case !st.Done:
				t.Fatalf("no end after 3 minutes: %+v", st)
			case st.Error != "":
				t.Fatalf("%s after %d messages: %+v", st.Error, st.Received, st)
			case st.Received != throughputMessages || st.Bad != 0:
				t.Fatalf("received %d of %d, %d bad (first: %s)", st.Received, throughputMessages, st.Bad, st.FirstBad)
			case st.Transport != tc.transport:
				t.Errorf("transport %q, want %q", st.Transport, tc.transport)
			}
			rate := float64(st.Received) / (float64(max(st.MS, 1)) / 1000)
			fmt.Fprintf(&report, "\n%-10s %6d ms  %8.0f msgs/s", tc.name, st.MS, rate)
		})
	}
	t.Logf("%d messages down, window 256 messages / 64 KiB:%s", throughputMessages, report.String())
}
