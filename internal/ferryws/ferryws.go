// Package ferryws carries a session over a Ferry WebSocket connection
// (PROTOCOL.md §6) for the server and the Go client: ReadLoop delivers
// what the peer sends into a channel, and WriteBatch writes a batch as a
// client does. The message format itself, and the server's pre-encoded
// batches, are package wire's (ParseWSMessage, AppendWSBatch).
package ferryws

import (
	"bytes"
	"context"
	"fmt"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// WriteBatch writes a batch: the ack first, then the frames (after an "n"
// frame restating the first one's number if the batch skips), or a
// heartbeat when the batch is empty.
func WriteBatch(conn *websocket.Conn, b wire.Batch) error {
	if b.Ack != 0 {
		if err := conn.WriteMessage(websocket.BinaryMessage, wire.AppendAck([]byte{wire.WSControl}, b.Ack)); err != nil {
			return err
		}
	} else if len(b.Frames) == 0 {
		return conn.WriteMessage(websocket.BinaryMessage, []byte{wire.WSControl, wire.KindHeartbeat})
	}
	if b.Skip && len(b.Frames) > 0 {
		if err := conn.WriteMessage(websocket.BinaryMessage, wire.AppendNext([]byte{wire.WSControl}, b.Frames[0].Seq)); err != nil {
			return err
		}
	}
	for i := range b.Frames {
		if err := WriteFrame(conn, &b.Frames[i]); err != nil {
			return err
		}
	}
	return nil
}

// WriteFrame writes one sequenced frame.
func WriteFrame(conn *websocket.Conn, f *wire.Frame) error {
	switch f.Kind {
	case wire.KindText:
		return conn.WriteMessage(websocket.TextMessage, f.Data)
	case wire.KindBinary:
		w, err := conn.NextWriter(websocket.BinaryMessage)
		if err != nil {
			return err
		}
		_, _ = w.Write([]byte{wire.WSData})
		_, _ = w.Write(f.Data)
		return w.Close()
	}
	return conn.WriteMessage(websocket.BinaryMessage, f.AppendText([]byte{wire.WSControl}))
}

// AbortFor closes ch for a decoding error with the matching close code.
func AbortFor(ch *emulation.Channel, err error) {
	switch err {
	case bytesocket.ErrInvalidUTF8:
		ch.Abort(bytesocket.StatusInvalidFramePayload, "invalid UTF-8 in text message")
	case bytesocket.ErrMessageTooBig:
		ch.Abort(bytesocket.StatusMessageTooBig, "message too big")
	default:
		ch.Abort(bytesocket.StatusProtocolError, err.Error())
	}
}

// ReadLoop reads messages from conn and delivers sequenced frames into ch,
// numbered from first and renumbered by "n" frames; acks go to ch.Ack. It
// never waits for room in ch's inbound queue (the peer keeps within its
// credit; see emulation.Channel.DeliverNow). A message over maxBytes
// aborts ch with 1009 and is counted but dropped; later frames are
// numbered and ignored, so the close handshake can finish on this
// connection. ReadLoop returns when the connection fails, another message
// is invalid (ch is aborted with the matching code), or the channel
// refuses delivery. An "n" frame that goes back, or past the frames ch has
// received, is a protocol error.
func ReadLoop(ctx context.Context, conn *websocket.Conn, ch *emulation.Channel, first uint64, maxBytes int) error {
	next := first
	var scratch bytes.Buffer
	for {
		typ, p, err := readMessage(conn, &scratch, maxBytes+1) // +1: a binary message's prefix
		if err != nil && err != bytesocket.ErrMessageTooBig {
			return err // the connection failed
		}
		var m wire.WSMessage
		if err == nil {
			m, err = wire.ParseWSMessage(bytesocket.MessageType(typ), p, maxBytes)
		}
		if err == bytesocket.ErrMessageTooBig {
			AbortFor(ch, err)
			m, err = wire.WSMessage{Seq: true, Frame: wire.Frame{Kind: wire.KindText}}, nil // holds its number
		}
		if err == nil {
			err = apply(ch, &next, m)
		}
		if err != nil {
			AbortFor(ch, err)
			return err
		}
		if !m.Seq {
			continue
		}
		if _, err := ch.DeliverNow(ctx, next, m.Frame); err != nil {
			return err
		}
		next++
	}
}

// apply acts on an unsequenced message: an ack or an "n" frame.
func apply(ch *emulation.Channel, next *uint64, m wire.WSMessage) error {
	if m.IsAck {
		return ch.Ack(m.Ack)
	}
	if m.Next != 0 {
		return renumber(ch, next, m.Next)
	}
	return nil
}

// renumber applies an "n" frame: the peer skips to n, past frames that
// another path delivered. It may not go back (frames on one connection are
// in order) nor past what ch has received (the frames in between would be
// lost).
func renumber(ch *emulation.Channel, next *uint64, n uint64) error {
	if n < *next {
		return fmt.Errorf("%w: n%d goes back from %d", wire.ErrBadFrame, n, *next)
	}
	if r := ch.Received(); n > r+1 {
		return fmt.Errorf("%w: n%d skips past %d received", emulation.ErrSeqGap, n, r)
	}
	*next = n
	return nil
}
