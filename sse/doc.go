// Package sse reads and writes the event-stream format of Server-Sent
// Events (WHATWG HTML, "Server-sent events").
//
// The writing side is a set of append functions for the server's hot path:
// [AppendEvent] writes one event with an optional id, [AppendRetry] and
// [AppendComment] write the other lines a server sends, and [Prelude] the
// padding that opens a stream. An [Encoder] does the same on an io.Writer.
//
// The reading side follows the specification's parsing rules exactly:
// input is UTF-8 (invalid bytes read as U+FFFD) with an optional leading
// byte order mark; lines end at CRLF, CR or LF, even when a chunk boundary
// falls between CR and LF; lines starting with a colon are comments; data
// lines are joined with LF; and the last event ID carries over from event
// to event. A [Decoder] pulls events from an io.Reader; a [Parser] takes
// chunks pushed to it. Both cap the memory an event can take
// ([DefaultMaxEventBytes], [ErrEventTooLarge]).
//
// # Lossless framing
//
// An event stream cannot carry every byte string: a data line cannot hold
// CR or LF, a CR reads back as LF, and invalid UTF-8 is replaced. Ferry
// therefore puts exactly one frame of the bytesocket text codec in each
// event's data. A frame holds no CR or LF and is valid UTF-8 (text is
// escaped, binary is base64), so it becomes a single data line and reads
// back byte for byte; see docs/PROTOCOL.md, sections 3 and 5. AppendEvent
// still writes any data safely, splitting it into several data lines, but
// only data for which [ValidData] is true reads back unchanged.
//
// # Concurrency
//
// The functions are safe for concurrent use. An Encoder, Parser or Decoder
// must be used by one goroutine at a time.
package sse
