// Package ferryws encodes and decodes the messages of a Ferry WebSocket
// (PROTOCOL.md §6), shared by the server and the Go client: text messages
// are Text frames, binary messages starting 0x00 are Binary frames, and
// binary messages starting 0x01 carry control frames.
package ferryws

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/internal/wsnative"
	"github.com/gorilla/websocket"
)

// Message prefixes of binary messages.
const (
	Data    = 0x00
	Control = 0x01
)

// Msg is one decoded message: a sequenced frame (Seq true), an ack
// (Ack > 0 or IsAck), the number of the next sequenced frame (Next > 0),
// an open frame's JSON (Open), or a heartbeat (none).
type Msg struct {
	Frame emulation.Frame
	Seq   bool
	IsAck bool
	Ack   uint64
	Next  uint64
	Open  []byte
}

// Parse decodes one message of type typ; maxBytes bounds payloads.
func Parse(typ int, p []byte, maxBytes int) (Msg, error) {
	if len(p) > maxBytes+1 {
		return Msg{}, bytesocket.ErrMessageTooBig
	}
	if typ == websocket.TextMessage {
		if len(p) > maxBytes {
			return Msg{}, bytesocket.ErrMessageTooBig
		}
		if !utf8.Valid(p) {
			return Msg{}, bytesocket.ErrInvalidUTF8
		}
		return Msg{Frame: emulation.Frame{Kind: emulation.KindText, Data: p}, Seq: true}, nil
	}
	if len(p) == 0 {
		return Msg{}, emulation.ErrBadFrame
	}
	if p[0] == Data {
		if len(p)-1 > maxBytes {
			return Msg{}, bytesocket.ErrMessageTooBig
		}
		return Msg{Frame: emulation.Frame{Kind: emulation.KindBinary, Data: p[1:]}, Seq: true}, nil
	}
	if p[0] != Control || len(p) < 2 {
		return Msg{}, emulation.ErrBadFrame
	}
	return parseControl(p[1:])
}

func parseControl(p []byte) (Msg, error) {
	switch p[0] {
	case emulation.KindAck:
		n, ok := emulation.ParseUint(string(p[1:]))
		if !ok {
			return Msg{}, emulation.ErrBadFrame
		}
		return Msg{IsAck: true, Ack: n}, nil
	case emulation.KindNext:
		n, ok := emulation.ParseUint(string(p[1:]))
		if !ok || n == 0 {
			return Msg{}, emulation.ErrBadFrame
		}
		return Msg{Next: n}, nil
	case emulation.KindHeartbeat:
		if len(p) != 1 {
			return Msg{}, emulation.ErrBadFrame
		}
		return Msg{}, nil
	case emulation.KindOpen:
		return Msg{Open: p[1:]}, nil
	case emulation.KindClose:
		f, err := emulation.ParseSequenced(p)
		return Msg{Frame: f, Seq: err == nil}, err
	}
	return Msg{}, emulation.ErrBadFrame
}

// WriteBatch writes a batch: the ack first, then the frames (after an "n"
// frame restating the first one's number if the batch skips), or a
// heartbeat when the batch is empty.
func WriteBatch(conn *websocket.Conn, b emulation.Batch) error {
	if b.Ack != 0 {
		if err := conn.WriteMessage(websocket.BinaryMessage, emulation.AppendAck([]byte{Control}, b.Ack)); err != nil {
			return err
		}
	} else if len(b.Frames) == 0 {
		return conn.WriteMessage(websocket.BinaryMessage, []byte{Control, emulation.KindHeartbeat})
	}
	if b.Skip && len(b.Frames) > 0 {
		if err := conn.WriteMessage(websocket.BinaryMessage, AppendNext([]byte{Control}, b.Frames[0].Seq)); err != nil {
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

// AppendServerBatch appends what WriteBatch would send, as unmasked
// frames a server writes: the whole batch goes out in one write.
func AppendServerBatch(dst []byte, b emulation.Batch) []byte {
	if b.Ack != 0 {
		ack := emulation.AppendAck([]byte{Control}, b.Ack)
		dst = wsnative.AppendServerFrame(dst, bytesocket.Binary, ack)
	} else if len(b.Frames) == 0 {
		dst = wsnative.AppendServerFrame(dst, bytesocket.Binary, []byte{Control, emulation.KindHeartbeat})
	}
	if b.Skip && len(b.Frames) > 0 {
		var tmp [24]byte
		dst = wsnative.AppendServerFrame(dst, bytesocket.Binary, AppendNext(append(tmp[:0], Control), b.Frames[0].Seq))
	}
	for i := range b.Frames {
		f := &b.Frames[i]
		switch f.Kind {
		case emulation.KindText:
			dst = wsnative.AppendServerFrame(dst, bytesocket.Text, f.Data)
		case emulation.KindBinary:
			dst = wsnative.AppendServerFrameHeader(dst, bytesocket.Binary, 1+len(f.Data))
			dst = append(append(dst, Data), f.Data...)
		default:
			dst = wsnative.AppendServerFrame(dst, bytesocket.Binary, f.AppendText([]byte{Control}))
		}
	}
	return dst
}

// WriteFrame writes one sequenced frame.
func WriteFrame(conn *websocket.Conn, f *emulation.Frame) error {
	switch f.Kind {
	case emulation.KindText:
		return conn.WriteMessage(websocket.TextMessage, f.Data)
	case emulation.KindBinary:
		w, err := conn.NextWriter(websocket.BinaryMessage)
		if err != nil {
			return err
		}
		_, _ = w.Write([]byte{Data})
		_, _ = w.Write(f.Data)
		return w.Close()
	}
	return conn.WriteMessage(websocket.BinaryMessage, f.AppendText([]byte{Control}))
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

// AppendNext appends the "n" frame: the next sequenced frame on this
// connection is number n.
func AppendNext(dst []byte, n uint64) []byte {
	return strconv.AppendUint(append(dst, emulation.KindNext), n, 10)
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
		var m Msg
		if err == nil {
			m, err = Parse(typ, p, maxBytes)
		}
		if err == bytesocket.ErrMessageTooBig {
			AbortFor(ch, err)
			m, err = Msg{Seq: true, Frame: emulation.Frame{Kind: emulation.KindText}}, nil // holds its number
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
func apply(ch *emulation.Channel, next *uint64, m Msg) error {
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
		return fmt.Errorf("%w: n%d goes back from %d", emulation.ErrBadFrame, n, *next)
	}
	if r := ch.Received(); n > r+1 {
		return fmt.Errorf("%w: n%d skips past %d received", emulation.ErrSeqGap, n, r)
	}
	*next = n
	return nil
}
