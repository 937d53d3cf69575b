// Package emulation implements Ferry's emulated WebSocket session: the
// reliable channel that numbers, retains, acknowledges and deduplicates
// messages in both directions, the session registry with expiry, and the
// HTTP endpoints that open a session, accept upstream POSTs and attach a
// downstream carrier.
//
// A [Channel] is one end of a reliable, ordered, exactly-once message
// stream that survives the loss of any carrier. The server side wraps it in
// a [Session] (which implements bytesocket.Socket); Ferry's Go client wraps
// the same type on its side. Carriers attach to a channel as a [Leg]: a
// cursor into the retained outbound frames. Only one leg is current; a new
// attach ends the previous one.
//
// Downstream carriers (package sse, package longpoll, the resumable
// WebSocket in package server) implement [Downstream]. What travels is
// package wire's: a channel queues and delivers wire.Frame values, and a
// leg hands its carrier a wire.Batch to encode. The wire protocol is
// specified in docs/PROTOCOL.md.
//
// # Concurrency
//
// Every exported method of Channel, Session, Leg and Registry is safe for
// concurrent use, except that Read must not be called concurrently with
// itself.
package emulation
