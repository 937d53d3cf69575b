// Package sockettest checks that a bytesocket.Socket keeps the contract
// every Ferry handler relies on, and provides an in-memory reference
// implementation.
//
// Run is the conformance suite, in the manner of golang.org/x/net/nettest:
// an implementation's tests hand it a function that makes a connected
// server/client pair, and every subtest gets a fresh pair. Native
// WebSockets, SSE and long-poll sessions and resumed sessions all pass the
// same suite.
//
// Pipe returns two connected in-memory Sockets, for tests of handlers and
// of adapters such as bytesocket.NetConn.
package sockettest
