// Package server is Ferry's negotiating HTTP front: a [Service] serves one
// WebSocket service on every carrier at once (plain RFC 6455 at its path,
// the resumable Ferry WebSocket, and SSE/long-poll emulation under
// B/.ferry/), and a [Gateway] mounts services, the client library and a
// demo page behind one origin policy, with graceful shutdown.
//
// Handlers receive a bytesocket.Socket and never see which carrier is in
// use. The wire protocol is in docs/PROTOCOL.md, and its encoder and
// decoder in package wire.
package server
