package server

import (
	"context"

	"github.com/ferrygw/ferry/bytesocket"
)

// Echo is the echo service: every message is sent back with its type, and
// the client's close code and reason are answered by the socket's close
// handshake.
func Echo(s bytesocket.Socket) {
	ctx := context.Background()
	for {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		if err := s.Write(ctx, typ, p); err != nil {
			return
		}
	}
}
