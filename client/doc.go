// Package client is Ferry's Go client. Dial opens a session to a Ferry
// service over the Ferry WebSocket, SSE+POST, long-poll, or plain RFC 6455,
// and returns a bytesocket.Socket. Except in plain mode, the session
// survives dropped connections: the client resumes on any transport and
// nothing is lost, duplicated or reordered (docs/PROTOCOL.md).
package client
