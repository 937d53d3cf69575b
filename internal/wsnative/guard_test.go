package wsnative

import (
	"bytes"
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

// TestGuardedWrites streams messages through Write and WriteRaw to a peer
// that only answers pings, over several heartbeats: each message arrives
// whole and in order, with the pings between frames, never inside one.
func TestGuardedWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := acceptPipe(t, heartbeat)
		const n = 200
		msg := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1000+i) }
		errc := make(chan error, 1)
		go func() {
			ctx := context.Background()
			for i := range n {
				var err error
				if i%2 == 0 {
					err = s.Write(ctx, bytesocket.Binary, msg(i))
				} else {
					err = s.WriteRaw(ctx, net.Buffers{wire.AppendServerFrame(nil, bytesocket.Binary, msg(i))})
				}
				if err != nil {
					errc <- err
					return
				}
				time.Sleep(heartbeat / 4)
			}
			errc <- nil
		}()
		pings := 0
		for i := 0; i < n; {
			op, p, err := c.read()
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			switch op {
			case opPing:
				pings++
				if err := c.write(opPong, p); err != nil {
					t.Fatal(err)
				}
			case 0x2:
				if !bytes.Equal(p, msg(i)) {
					t.Fatalf("message %d: %d bytes, not the message sent", i, len(p))
				}
				i++
			default:
				t.Fatalf("message %d: opcode %d", i, op)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if pings == 0 {
			t.Error("never pinged a peer that only listens")
		}
		finish(s, c)
	})
}
