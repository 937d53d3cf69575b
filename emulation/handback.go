package emulation

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

type handBackKey struct{}

// WithHandBack returns a context carrying give, which takes back an
// HTTP/1.1 connection that a carrier hijacked, once a complete response
// has been written on it, so that the server reads the connection's next
// request as if it had never left. give reports false when it cannot
// (the server is closing); the caller then closes the connection. A
// server sets it with http.Server.ConnContext; carriers find it with
// HandBack.
func WithHandBack(ctx context.Context, give func(net.Conn) bool) context.Context {
	return context.WithValue(ctx, handBackKey{}, give)
}

// HandBack returns the function WithHandBack stored in ctx, or nil.
func HandBack(ctx context.Context) func(net.Conn) bool {
	give, _ := ctx.Value(handBackKey{}).(func(net.Conn) bool)
	return give
}

// Detached is an HTTP/1.1 exchange taken off net/http to wait without its
// goroutines and buffers: Detach hijacks it, Respond later writes the
// whole response and gives the connection back to the server (keep-alive)
// or closes it.
type Detached struct {
	conn      net.Conn
	header    http.Header // the response headers set before Detach
	keepAlive bool
	give      func(net.Conn) bool
	watch     *connWatch // nil until Watch
}

// Watch returns a context that ends when the client closes the connection
// while the exchange waits, so that a held request whose client left is
// noticed at once. Respond and Close end the watch.
func (d *Detached) Watch() context.Context {
	ctx, w := watchConn(d.conn, false)
	d.watch = w
	return ctx
}

// unwatch ends the watch, keeping what it read for the next request.
func (d *Detached) unwatch() {
	if d.watch == nil {
		return
	}
	if early := d.watch.stop(); len(early) > 0 {
		d.conn = &prefixConn{Conn: d.conn, r: io.MultiReader(bytes.NewReader(early), d.conn)}
	}
	d.watch = nil
}

// Detach takes the request's connection from net/http when r is
// HTTP/1.x, w can be hijacked and the server can take connections back
// (WithHandBack); otherwise it returns nil and the caller answers as
// usual. Headers already set on w (CORS, say) are kept for Respond.
func Detach(w http.ResponseWriter, r *http.Request) *Detached {
	give := HandBack(r.Context())
	hj, ok := w.(http.Hijacker)
	// A request with a body is never detached: its unread body would be
	// read as the connection's next request.
	if give == nil || !ok || r.ProtoMajor != 1 || r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return nil
	}
	header := w.Header().Clone()
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil
	}
	if n := brw.Reader.Buffered(); n > 0 { // a pipelined request: keep it
		pending, _ := brw.Reader.Peek(n)
		conn = &prefixConn{Conn: conn, r: io.MultiReader(bytes.NewReader(bytes.Clone(pending)), conn)}
	}
	brw.Reader.Reset(nil) // release net/http's buffers
	brw.Writer.Reset(nil)
	return &Detached{
		conn:      conn,
		header:    header,
		keepAlive: r.ProtoMinor >= 1 && !r.Close,
		give:      give,
	}
}

// Respond writes the status, the headers kept at Detach plus
// Content-Length, and body, within timeout, then gives the connection
// back to the server or closes it. It reports whether the write
// succeeded.
func (d *Detached) Respond(status int, body []byte, timeout time.Duration) bool {
	d.unwatch()
	_ = d.conn.SetWriteDeadline(time.Now().Add(timeout))
	h := d.header
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if !d.keepAlive {
		h.Set("Connection", "close")
	}
	bw := bufio.NewWriterSize(d.conn, 512+len(body))
	_, _ = bw.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	_ = h.Write(bw)
	_, _ = bw.WriteString("\r\n")
	_, _ = bw.Write(body)
	err := bw.Flush()
	_ = d.conn.SetWriteDeadline(time.Time{})
	if err != nil || !d.keepAlive || !d.give(d.conn) {
		d.conn.Close()
		return err == nil
	}
	return true
}

// Close drops the connection without answering.
func (d *Detached) Close() {
	d.conn.Close()
	d.unwatch()
}

type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }
