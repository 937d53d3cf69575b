package sockettest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
)

// Limits on what one end of a Pipe holds unread before its peer's Write
// waits (a single larger message is admitted when nothing is unread).
const (
	pipeBufferBytes    = 1 << 20
	pipeBufferMessages = 1024
)

// Pipe returns the two ends of an in-memory message connection. It
// follows the Socket contract to the letter and passes Run, so it serves
// as the reference implementation and as a stand-in for a client in tests
// of handlers:
//
//   - A Write waits while the peer holds 1 MiB or 1024 messages unread
//     (flow control); a single larger message is admitted when nothing
//     is unread. Write returns ctx.Err() without sending once ctx has ended.
//   - Close(code, reason) makes the peer's Read return
//     CloseError{code, reason} once the messages sent before it are read,
//     and the peer's Write return the same CloseError. The closing end's
//     Read and Write return an error wrapping net.ErrClosed at once, and
//     messages it had not read are dropped.
//   - Close rejects codes that are not Sendable and reasons over
//     MaxReasonBytes; Close again, or after the peer's close, returns an
//     error wrapping net.ErrClosed.
//   - Subprotocol is "", Transport is "pipe", RemoteAddr has network and
//     address "pipe", and Header is empty.
//
// Every method of both ends is safe for concurrent use.
func Pipe() (a, b bytesocket.Socket) {
	p := &pipe{wake: make(chan struct{})}
	return &pipeEnd{p: p, me: 0, header: http.Header{}}, &pipeEnd{p: p, me: 1, header: http.Header{}}
}

// pipe is the state shared by both ends.
type pipe struct {
	mu    sync.Mutex    // guards everything below
	wake  chan struct{} // closed and replaced on every state change
	sides [2]side
}

// side is what one end has received, and whether it closed.
type side struct {
	inq       []message              // received, not yet read
	inBytes   int                    // payload bytes in inq
	peerClose *bytesocket.CloseError // the peer's close, read after inq
	closed    bool                   // this end called Close
}

type message struct {
	typ  bytesocket.MessageType
	data []byte
}

// changed wakes every waiter. p.mu must be held.
func (p *pipe) changed() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// wait releases p.mu until the state changes or ctx ends, then re-takes it.
func (p *pipe) wait(ctx context.Context) error {
	w := p.wake
	p.mu.Unlock()
	defer p.mu.Lock()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hasRoom reports whether s can take another message of n bytes.
func (s *side) hasRoom(n int) bool {
	if len(s.inq) == 0 {
		return true
	}
	return s.inBytes+n <= pipeBufferBytes && len(s.inq) < pipeBufferMessages
}

func (s *side) push(m message) {
	s.inq = append(s.inq, m)
	s.inBytes += len(m.data)
}

func (s *side) pop() message {
	m := s.inq[0]
	s.inq[0] = message{}
	s.inq = s.inq[1:]
	s.inBytes -= len(m.data)
	return m
}

// pipeEnd is one end of a Pipe.
type pipeEnd struct {
	p      *pipe
	me     int // index of this end's side
	header http.Header
}

var _ bytesocket.Socket = (*pipeEnd)(nil)

func (e *pipeEnd) self() *side { return &e.p.sides[e.me] }
func (e *pipeEnd) peer() *side { return &e.p.sides[1-e.me] }

// Read returns the next message. See bytesocket.Socket.
func (e *pipeEnd) Read(ctx context.Context) (bytesocket.MessageType, []byte, error) {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	for {
		me := e.self()
		switch {
		case me.closed:
			return 0, nil, bytesocket.ErrClosed("read")
		case len(me.inq) > 0:
			m := me.pop()
			e.p.changed()
			return m.typ, m.data, nil
		case me.peerClose != nil:
			return 0, nil, *me.peerClose
		}
		if err := e.p.wait(ctx); err != nil {
			return 0, nil, err
		}
	}
}

// Write sends one message, waiting while the peer's buffer is full. See
// bytesocket.Socket.
func (e *pipeEnd) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	if err := checkMessage(typ, p); err != nil {
		return err
	}
	m := message{typ, bytes.Clone(p)}
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	for {
		if err := e.writeError(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.peer().hasRoom(len(m.data)) {
			e.peer().push(m)
			e.p.changed()
			return nil
		}
		if err := e.p.wait(ctx); err != nil {
			return err
		}
	}
}

func checkMessage(typ bytesocket.MessageType, p []byte) error {
	switch {
	case typ != bytesocket.Text && typ != bytesocket.Binary:
		return fmt.Errorf("sockettest: unknown message type %d", typ)
	case typ == bytesocket.Text && !utf8.Valid(p):
		return bytesocket.ErrInvalidUTF8
	}
	return nil
}

// writeError is why this end can no longer send, or nil. p.mu held.
func (e *pipeEnd) writeError() error {
	me := e.self()
	switch {
	case me.closed:
		return bytesocket.ErrClosed("write")
	case me.peerClose != nil:
		return *me.peerClose
	}
	return nil
}

// Close closes this end and sends the peer code and reason. See
// bytesocket.Socket.
func (e *pipeEnd) Close(code bytesocket.StatusCode, reason string) error {
	if len(reason) > bytesocket.MaxReasonBytes {
		return bytesocket.ErrReasonTooLong
	}
	if !code.Sendable() {
		return fmt.Errorf("sockettest: close code %d may not be sent", code)
	}
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	me := e.self()
	if me.closed || me.peerClose != nil {
		return bytesocket.ErrClosed("close")
	}
	*me = side{closed: true}
	e.peer().peerClose = &bytesocket.CloseError{Code: code, Reason: reason}
	e.p.changed()
	return nil
}

// Subprotocol returns "".
func (e *pipeEnd) Subprotocol() string { return "" }

// Transport returns "pipe".
func (e *pipeEnd) Transport() string { return "pipe" }

// RemoteAddr returns an address whose network and string are "pipe".
func (e *pipeEnd) RemoteAddr() net.Addr { return pipeAddr{} }

// Header returns an empty header.
func (e *pipeEnd) Header() http.Header { return e.header }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
