package server

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/internal/wsnative"
	"github.com/ferrygw/ferry/wire"
)

// countedSocket counts a plain WebSocket's messages into a service's
// counters and records how long it lived and the close code it ended with.
type countedSocket struct {
	*wsnative.Socket
	sm     *serviceMetrics
	opened time.Time
	code   atomic.Int32 // close code seen on Read or Write; 0 if none
}

// countSocket returns s counted into sm, open from now on.
func (sm *serviceMetrics) countSocket(s *wsnative.Socket) *countedSocket {
	return &countedSocket{Socket: s, sm: sm, opened: time.Now()}
}

// Read reads a message and counts it.
func (s *countedSocket) Read(ctx context.Context) (bytesocket.MessageType, []byte, error) {
	typ, p, err := s.Socket.Read(ctx)
	if err == nil {
		s.sm.counters.In(len(p))
	}
	s.note(err)
	return typ, p, err
}

// Write writes a message and counts it.
func (s *countedSocket) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	err := s.Socket.Write(ctx, typ, p)
	if err == nil {
		s.sm.counters.Out(len(p))
	}
	s.note(err)
	return err
}

// WriteRaw sends pre-encoded frames (see wsnative.Socket.WriteRaw) and
// counts them, so a broadcast keeps its one-syscall batches through the
// metrics wrapper.
func (s *countedSocket) WriteRaw(ctx context.Context, frames net.Buffers) error {
	err := s.Socket.WriteRaw(ctx, frames)
	if err == nil {
		for _, f := range frames {
			s.sm.counters.Out(wire.ServerFramePayloadLen(f))
		}
	}
	s.note(err)
	return err
}

// Close closes the socket, remembering code unless a close was seen.
func (s *countedSocket) Close(code bytesocket.StatusCode, reason string) error {
	s.code.CompareAndSwap(0, int32(code))
	return s.Socket.Close(code, reason)
}

func (s *countedSocket) note(err error) {
	if ce, ok := err.(bytesocket.CloseError); ok {
		s.code.CompareAndSwap(0, int32(ce.Code))
	}
}

// finished counts the socket's close and records its life.
func (s *countedSocket) finished() {
	code := bytesocket.StatusCode(s.code.Load())
	if code == 0 {
		code = bytesocket.StatusAbnormalClosure
	}
	s.sm.counters.Close(code)
	s.sm.finished("plain", time.Since(s.opened))
}
