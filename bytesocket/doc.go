// Package bytesocket defines the transport-agnostic message socket that every
// Ferry handler sees, whether the peer is connected over a native WebSocket,
// an emulated Server-Sent Events + POST session, long-polling, or a resumed
// WebSocket.
//
// A [Socket] carries whole messages, each either [Text] (valid UTF-8) or
// [Binary] (any bytes, including none). Messages arrive exactly once and in
// order. A session ends with a close code and reason ([CloseError]); an
// abnormal loss reads as [StatusAbnormalClosure].
//
// [NetConn] adapts a Socket to a net.Conn byte stream for TCP proxying.
// How messages travel is not this package's concern: the wire formats
// (the text codec used where only text can travel, among others) are in
// package wire, which uses this package's [ErrInvalidUTF8] and
// [ErrMessageTooBig].
//
// Package sockettest holds the conformance suite every Socket
// implementation passes, and Pipe, an in-memory Socket pair for tests.
//
// # Concurrency
//
// Read must be called from one goroutine at a time. Write and Close are safe
// to call from any goroutine, concurrently with Read and with each other;
// concurrent Writes are delivered in some serial order, each message whole.
// The accessor methods (Subprotocol, Transport, RemoteAddr, Header) are safe
// from anywhere.
package bytesocket
