// Package sse is Ferry's event-stream carrier: [Downstream] serves a
// session's frames as a Server-Sent Events stream (PROTOCOL.md §5.1), the
// downstream of the SSE + POST transport. An [Encoder] writes events to an
// io.Writer.
//
// The event-stream format itself, encoding and decoding, is in package
// wire (wire.AppendEvent, wire.AppendBatchEvent, wire.EventDecoder). Ferry
// puts one frame per data line, each in the text form of PROTOCOL.md §3,
// which holds no CR or LF and is valid UTF-8, so it crosses any event-stream
// parser byte for byte.
//
// # Concurrency
//
// Downstream is safe for concurrent use. An Encoder must be used by one
// goroutine at a time.
package sse
