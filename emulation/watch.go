package emulation

import (
	"context"
	"errors"
	"net"
	"os"
	"time"
)

// connWatch notices that the client of a connection taken off net/http
// (a held long-poll, a hijacked event stream) went away, at once rather
// than at the next write: a goroutine waits in Read on the otherwise idle
// connection. Bytes that arrive instead (a pipelined request) end the
// watch and are kept for the connection's next reader.
type connWatch struct {
	conn    net.Conn
	cancel  context.CancelFunc
	discard bool          // read and drop what arrives; only a close ends the watch
	done    chan struct{} // closed when the reading goroutine ends
	early   []byte        // bytes read that belong to the next request
}

// watchConn starts watching conn; the context ends when its client closes
// the connection. discard is for a connection that is closed after the
// response (an event stream): anything the client sends is dropped.
func watchConn(conn net.Conn, discard bool) (context.Context, *connWatch) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &connWatch{conn: conn, cancel: cancel, discard: discard, done: make(chan struct{})}
	go w.run()
	return ctx, w
}

func (w *connWatch) run() {
	defer close(w.done)
	var b [512]byte
	for {
		n, err := w.conn.Read(b[:])
		if n > 0 && !w.discard {
			w.early = append(w.early, b[:n]...)
			return // the client is there: it sent its next request
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return // stop
		}
		if err != nil {
			w.cancel() // closed or reset
			return
		}
	}
}

// stop ends the watch and returns the bytes it read, which come before
// anything still unread on the connection.
func (w *connWatch) stop() []byte {
	_ = w.conn.SetReadDeadline(time.Unix(1, 0))
	<-w.done
	_ = w.conn.SetReadDeadline(time.Time{})
	w.cancel()
	return w.early
}

// WatchClose returns a context that ends when the client closes conn, a
// connection taken off net/http that the server only writes to from then
// on (an event stream): the stream notices a client that left at once
// instead of at its next write. What the client sends is dropped. stop
// ends the watch.
func WatchClose(conn net.Conn) (ctx context.Context, stop func()) {
	ctx, w := watchConn(conn, true)
	return ctx, func() { w.stop() }
}
