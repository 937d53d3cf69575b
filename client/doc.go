// Package client is Ferry's Go client. Dial opens a session to a Ferry
// service over the Ferry WebSocket, SSE+POST, long-poll, or plain RFC 6455,
// and returns a bytesocket.Socket. Except in plain mode, the session
// survives dropped connections: the client resumes on any transport and
// nothing is lost, duplicated or reordered (docs/PROTOCOL.md). Frames,
// event streams and Ferry WebSocket messages are read and written with
// package wire, as the server does.
package client

import "github.com/ferrygw/ferry/wire"

// versions lists the protocol versions the client speaks, the ones package
// wire implements, sent as the v parameter when it opens or resumes a
// session (PROTOCOL.md §2).
var versions = wire.VersionList()
