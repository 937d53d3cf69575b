package wsnative

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/gorilla/websocket"
)

// Opcodes of the frames the tests write by hand.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xa
)

// rawClient is a WebSocket client that writes hand-made frames, masked
// as RFC 6455 requires of a client, over an in-memory connection, so that
// tests can run in a synctest bubble.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
}

// pipeWriter is a ResponseWriter whose Hijack returns one end of a pipe.
type pipeWriter struct {
	*httptest.ResponseRecorder
	conn net.Conn
}

func (w pipeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.conn, bufio.NewReadWriter(bufio.NewReader(w.conn), bufio.NewWriter(w.conn)), nil
}

// acceptPipe opens a Socket made by Accept with the given heartbeat and
// returns it with the raw client at the other end.
func acceptPipe(t *testing.T, heartbeat time.Duration) (*Socket, *rawClient) {
	t.Helper()
	cc, sc := net.Pipe()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	type result struct {
		s   *Socket
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Accept(&websocket.Upgrader{}, pipeWriter{httptest.NewRecorder(), sc}, r, nil, 1<<20, heartbeat)
		done <- result{s, err}
	}()
	c := &rawClient{conn: cc, br: bufio.NewReader(cc)}
	resp, err := http.ReadResponse(c.br, r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	return res.s, c
}

// frame returns a masked frame with FIN set.
func frame(op byte, payload []byte) []byte {
	f := []byte{0x80 | op}
	switch n := len(payload); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = binary.BigEndian.AppendUint64(append(f, 0x80|127), uint64(n))
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i&3])
	}
	return f
}

// write sends one masked frame.
func (c *rawClient) write(op byte, payload []byte) error {
	return c.send(frame(op, payload), 0, 0)
}

// send writes f in chunks of at most chunk bytes (all at once if chunk
// is 0), pausing between chunks.
func (c *rawClient) send(f []byte, chunk int, pause time.Duration) error {
	if chunk == 0 {
		chunk = len(f)
	}
	for len(f) > 0 {
		n := min(chunk, len(f))
		if _, err := c.conn.Write(f[:n]); err != nil {
			return err
		}
		if f = f[n:]; len(f) > 0 && pause > 0 {
			time.Sleep(pause)
		}
	}
	return nil
}

// read returns the next frame from the server (unmasked, unfragmented).
func (c *rawClient) read() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		_, err = io.ReadFull(c.br, ext[:])
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		_, err = io.ReadFull(c.br, ext[:])
		n = binary.BigEndian.Uint64(ext[:])
	}
	if err != nil {
		return 0, nil, err
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(c.br, payload)
	return h[0] & 0x0f, payload, err
}

// closeFrame returns a close frame's payload: code and reason.
func closeFrame(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// readClose reads frames until the server's close and returns its code
// (1005 for an empty close, 0 if the connection ended first).
func (c *rawClient) readClose(t *testing.T) bytesocket.StatusCode {
	t.Helper()
	for {
		op, p, err := c.read()
		if err != nil {
			t.Errorf("no close frame: %v", err)
			return 0
		}
		if op != opClose {
			continue
		}
		if len(p) < 2 {
			return bytesocket.StatusNoStatusRcvd
		}
		return bytesocket.StatusCode(binary.BigEndian.Uint16(p))
	}
}

// finish closes both ends and lets the socket's goroutines end.
func finish(s *Socket, c *rawClient) {
	_ = c.conn.Close()
	_ = s.Close(bytesocket.StatusNormalClosure, "")
	<-s.readDone
}

// readAll reads the socket until it fails, sending what it reads.
func readAll(s *Socket) <-chan error {
	errc := make(chan error, 1)
	go func() {
		for {
			if _, _, err := s.Read(context.Background()); err != nil {
				errc <- err
				return
			}
		}
	}()
	return errc
}
