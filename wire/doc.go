// Package wire encodes and decodes every frame and body format of Ferry's
// wire protocol (docs/PROTOCOL.md): it is the reference encoder and
// decoder that the server, the Go client and the tests share. It does no
// I/O beyond parsing from an io.Reader, starts no goroutines, and imports
// only package bytesocket and the standard library.
//
// The formats, by file:
//
//   - The text codec (§3): [AppendFrame] and [ParseFrame] write and read a
//     message as one line without CR or LF, "t" and escaped text or "b" and
//     base64, so that it crosses an event stream or a POST body byte for
//     byte.
//   - Frames (§3): a sequenced [Frame] (message or close) in text form
//     ([Frame.AppendText], [ParseSequenced]), the control frames "a" and
//     "n" ([AppendAck], [AppendNext]), decimal numbers ([ParseUint]), and
//     the [Batch] a carrier sends at once.
//   - The open object (§4): [OpenInfo] and the "o" frame ([AppendOpen]).
//   - Downstream event streams and long-poll bodies (§5.1): [AppendEvent],
//     [AppendBatchEvent], [Prelude] and the other lines a server writes; an
//     [EventParser] or [EventDecoder] reads them by the WHATWG HTML rules.
//   - Upstream POST bodies (§5.2): a [BodyReader] parses a body frame by
//     frame as it arrives; [ParseBody] parses one held whole.
//   - The Ferry WebSocket (§6): [ParseWSMessage] reads a message, and
//     [AppendWSBatch] writes a batch as the RFC 6455 frames a server sends,
//     built on [AppendServerFrame].
//   - Negotiation (§2, §4): subprotocol offers ([ParseProtocols],
//     [ParseProtocolHeader], [SelectProtocol]) and protocol versions
//     ([ParseVersion]).
//
// Parsers accept only what the encoders write, so whatever parses
// re-encodes to the same bytes, and they never panic on any input (each
// has a fuzz target). They fail with this package's sentinel errors, whose
// text a server sends as the body of an error response, and with
// bytesocket.ErrInvalidUTF8 and bytesocket.ErrMessageTooBig.
//
// # Concurrency
//
// The functions are pure and safe for concurrent use. A Frame is
// immutable once made; the text form of a [SharedFrame] is computed on
// first use and that is safe for concurrent use, so one frame can be
// written to many sessions at once. An EventParser, EventDecoder or
// BodyReader must be used by one goroutine at a time.
package wire
