package bytesocket

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// NetConn returns a net.Conn that carries a byte stream over s, for
// tunnelling a TCP protocol (MQTT, STOMP, ...) through a Socket.
//
//   - Each Write sends exactly one message of type typ, even an empty one.
//     With Text, each Write must be valid UTF-8 on its own (ErrInvalidUTF8
//     otherwise), so byte streams should use Binary.
//   - Read returns the payloads of received messages in order, as one
//     stream: message boundaries are not preserved, and Text and Binary
//     messages are both accepted. A Read returns bytes from at most one
//     message, and never blocks once it has bytes to return.
//   - A close from the peer with StatusNormalClosure or StatusGoingAway
//     reads as io.EOF; any other close reads as its CloseError.
//   - Close closes s with StatusNormalClosure and interrupts blocked Read
//     and Write calls. It returns nil if s was already closed by its peer.
//   - SetDeadline, SetReadDeadline and SetWriteDeadline behave as for a
//     TCP connection: a passed deadline fails Read or Write with an error
//     that wraps os.ErrDeadlineExceeded and whose Timeout method reports
//     true, interrupts calls already blocked, and leaves s usable once the
//     deadline is moved. A Write interrupted this way sent nothing.
//   - RemoteAddr returns s.RemoteAddr(); LocalAddr, having nothing better,
//     returns an address whose network is "bytesocket".
//
// ctx bounds the lifetime of the returned net.Conn: once it ends, Read and
// Write fail with its error (s itself is not closed). Call Close to
// release the resources NetConn holds.
//
// As net.Conn requires, every method is safe for concurrent use. While
// the net.Conn is in use, nothing else may call s.Read.
func NetConn(ctx context.Context, s Socket, typ MessageType) net.Conn {
	ctx, cancel := context.WithCancel(ctx)
	c := &netConn{s: s, typ: typ, cancel: cancel}
	c.rd.init(ctx)
	c.wd.init(ctx)
	return c
}

type netConn struct {
	s      Socket
	typ    MessageType
	cancel context.CancelFunc // ends the context both deadlines derive from
	closed atomic.Bool        // Close was called
	rd, wd deadline

	readMu sync.Mutex // serializes Read; guards buf
	buf    []byte     // unread rest of the current message
}

var _ net.Conn = (*netConn)(nil)

// Read reads from the stream of received message payloads.
func (c *netConn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	ctx := c.rd.context()
	if c.closed.Load() || ctx.Err() != nil {
		return 0, c.opError("read", ctx, ctx.Err())
	}
	for len(c.buf) == 0 && len(p) > 0 {
		_, msg, err := c.s.Read(ctx)
		if err != nil {
			return 0, c.readError(ctx, err)
		}
		c.buf = msg
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	if len(c.buf) == 0 {
		c.buf = nil // let a large message be collected
	}
	return n, nil
}

// readError maps an error from s.Read to the error Read returns.
func (c *netConn) readError(ctx context.Context, err error) error {
	switch CloseStatus(err) {
	case StatusNormalClosure, StatusGoingAway:
		if !c.closed.Load() {
			return io.EOF
		}
	}
	return c.opError("read", ctx, err)
}

// Write sends p as one message.
func (c *netConn) Write(p []byte) (int, error) {
	ctx := c.wd.context()
	if c.closed.Load() || ctx.Err() != nil {
		return 0, c.opError("write", ctx, ctx.Err())
	}
	if err := c.s.Write(ctx, c.typ, p); err != nil {
		return 0, c.opError("write", ctx, err)
	}
	return len(p), nil
}

// opError maps err, which op met while using ctx, to what net.Conn
// callers expect: net.ErrClosed after Close, a timeout error when the
// deadline passed, and err itself otherwise.
func (c *netConn) opError(op string, ctx context.Context, err error) error {
	switch {
	case c.closed.Load():
		return ErrClosed(op)
	case expired(ctx) && errors.Is(err, ctx.Err()):
		return &net.OpError{Op: op, Net: netName, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.ErrDeadlineExceeded}
	}
	return err
}

// Close closes the Socket with StatusNormalClosure.
func (c *netConn) Close() error {
	if c.closed.Swap(true) {
		return ErrClosed("close")
	}
	err := c.s.Close(StatusNormalClosure, "")
	c.cancel()
	c.rd.stop()
	c.wd.stop()
	if errors.Is(err, net.ErrClosed) {
		return nil // the peer closed first
	}
	return err
}

// SetDeadline sets the read and write deadlines.
func (c *netConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for current and future Reads.
func (c *netConn) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return ErrClosed("set deadline")
	}
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for current and future Writes.
func (c *netConn) SetWriteDeadline(t time.Time) error {
	if c.closed.Load() {
		return ErrClosed("set deadline")
	}
	c.wd.set(t)
	return nil
}
