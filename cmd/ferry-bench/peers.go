package main

import (
	"context"
	"strings"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/internal/bench"
	"github.com/ferrygw/ferry/internal/peers"
)

// The peers Ferry is compared with (bench/peers, bench/run.sh):
//
//	-target sockjs    -transport websocket | eventsource | xhr-polling
//	-target socketio  -transport websocket | polling
//
// -url names the peer's endpoint: the SockJS prefix, or the Socket.IO
// namespace (Engine.IO at /socket.io/ on the same host), e.g.
// http://127.0.0.1:9101/echo; bench/peers' servers have /echo, /bench and
// /broadcast, and take POST /publish/... for broadcast mode.
func init() {
	bench.RegisterTarget("sockjs", dialSockJS)
	bench.RegisterTarget("socketio", peers.DialSocketIO)
}

// dialSockJS opens a SockJS session for the load tool. SockJS carries
// strings only, so the tool's binary payloads (ASCII) travel as strings
// and every string received is reported as binary, except the bench
// protocol's replies "done" and "got N", which stay text.
func dialSockJS(ctx context.Context, url, transport string) (bytesocket.Socket, error) {
	s, err := peers.DialSockJS(ctx, url, transport)
	if err != nil {
		return nil, err
	}
	return peers.TextOnly(s, isBenchReply), nil
}

func isBenchReply(p []byte) bool {
	return string(p) == "done" || strings.HasPrefix(string(p), "got ")
}
