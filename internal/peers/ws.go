package peers

import (
	"context"
	"sync"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/gorilla/websocket"
)

// wsMsg is one WebSocket message to write.
type wsMsg struct {
	typ int // websocket.TextMessage or websocket.BinaryMessage
	p   []byte
}

// wsWrite writes WebSocket messages, back to back, under mu, bounded by
// ctx. A write cut short leaves the connection unusable, so it ends the
// socket.
func wsWrite(ctx context.Context, c *conn, mu *sync.Mutex, ws *websocket.Conn, msgs ...wsMsg) error {
	mu.Lock()
	defer mu.Unlock()
	if err := c.writeErr(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = ws.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	dl, _ := ctx.Deadline()
	_ = ws.SetWriteDeadline(dl)
	for _, m := range msgs {
		if err := ws.WriteMessage(m.typ, m.p); err != nil {
			c.lost("websocket: " + err.Error())
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return c.writeErr()
		}
	}
	return nil
}

// wsClose sends a close frame with code and reason (an empty one for a
// code that may not be sent) and ends the socket; the connection is
// closed without waiting for the server's answer.
func wsClose(c *conn, mu *sync.Mutex, ws *websocket.Conn, code bytesocket.StatusCode, reason string) {
	msg := []byte{}
	if code.Sendable() {
		msg = websocket.FormatCloseMessage(int(code), reason)
	}
	mu.Lock()
	_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	mu.Unlock()
	c.end(bytesocket.ErrClosed("read"))
}
