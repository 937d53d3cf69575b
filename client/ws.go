package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/internal/ferryws"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// dialFerryWS opens a new session over B/.ferry/ws.
func dialFerryWS(ctx context.Context, base *url.URL, o *Options) (bytesocket.Socket, error) {
	u := *base
	u.Path += "/.ferry/ws"
	u.RawQuery = url.Values{"v": {versions}}.Encode()
	conn, resp, err := o.Dialer.DialContext(ctx, wsURL(&u), o.wsHeader())
	if err != nil {
		return nil, httpErr(resp, err)
	}
	info, err := readOpen(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := newConn(base, o, info, o.wsHeader())
	go c.run(conn)
	return c, nil
}

// readOpen reads the "o" control frame that starts every Ferry WebSocket.
func readOpen(conn *websocket.Conn) (wire.OpenInfo, error) {
	var info wire.OpenInfo
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	typ, p, err := conn.ReadMessage()
	if err != nil {
		return info, err
	}
	_ = conn.SetReadDeadline(time.Time{})
	m, err := wire.ParseWSMessage(bytesocket.MessageType(typ), p, len(p))
	if err != nil || m.Open == nil {
		return info, fmt.Errorf("client: expected an open frame: %w", wire.ErrBadFrame)
	}
	if err := json.Unmarshal(m.Open, &info); err != nil {
		return info, fmt.Errorf("client: bad open frame: %w", err)
	}
	return info, nil
}

// carryWS resumes (or, with first, continues) the session on a WebSocket.
func (c *Conn) carryWS(ctx context.Context, conn *websocket.Conn) (bool, error) {
	last := c.Received()
	ack := c.info.Ack // the open frame Dial already read
	if conn == nil {
		u := *c.base
		u.Path += "/.ferry/" + c.info.Session + "/ws"
		u.RawQuery = url.Values{"v": {versions}, "last": {fmt.Sprint(last)}}.Encode()
		cn, resp, err := c.o.Dialer.DialContext(ctx, wsURL(&u), c.o.Header)
		if err != nil {
			return false, httpErr(resp, err)
		}
		conn = cn
		info, err := readOpen(conn)
		if err != nil {
			conn.Close()
			return false, err
		}
		ack = info.Ack
	}
	defer conn.Close()
	leg, err := c.Attach(ack, WebSocket, true)
	if err != nil {
		return false, err
	}
	defer leg.Detach()
	leg.SetCredit(c.info.InboundBytes)
	leg.SetAckPolicy(c.ackPolicy())
	c.attached(WebSocket)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	errc := make(chan error, 1)
	go func() {
		errc <- ferryws.ReadLoop(ctx, conn, c.Channel, last+1, c.info.MaxMessage)
		cancel()
	}()
	for {
		b, err := leg.Next(ctx, c.heartbeat(), 64<<10)
		if err == nil {
			err = ferryws.WriteBatch(conn, b)
		}
		if err == emulation.ErrSessionDone {
			// Acknowledge the server's close frame so it forgets the session now.
			_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_ = ferryws.WriteBatch(conn, wire.Batch{Ack: c.Received()})
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		}
		if err != nil {
			conn.Close()
			<-errc
			if err == emulation.ErrSessionDone {
				return true, nil
			}
			return true, err
		}
	}
}
