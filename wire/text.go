package wire

import (
	"bytes"
	"encoding/base64"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
)

// The text codec (PROTOCOL.md §3) writes one message as one line of text
// that contains no CR or LF, so it survives any line-oriented carrier (an event stream's
// data field, a line of a POST body) byte for byte:
//
//	t<escaped text>    a Text message
//	b<base64>          a Binary message (standard base64, padded)
//
// Escaping replaces backslash with `\\`, CR with `\r` and LF with `\n`;
// every other byte, NUL and U+2028 included, is written as is.

// AppendText appends the frame for Text message s to dst.
func AppendText(dst, s []byte) []byte {
	dst = append(dst, 't')
	return AppendEscaped(dst, s)
}

// AppendBinary appends the frame for Binary message p to dst.
func AppendBinary(dst, p []byte) []byte {
	dst = append(dst, 'b')
	return base64.StdEncoding.AppendEncode(dst, p)
}

// AppendFrame appends the frame for a message of type typ.
func AppendFrame(dst []byte, typ bytesocket.MessageType, p []byte) []byte {
	if typ == bytesocket.Binary {
		return AppendBinary(dst, p)
	}
	return AppendText(dst, p)
}

// AppendEscaped appends s with backslash, CR and LF escaped.
func AppendEscaped(dst, s []byte) []byte {
	start := 0
	for i, c := range s {
		var esc byte
		switch c {
		case '\\':
			esc = '\\'
		case '\r':
			esc = 'r'
		case '\n':
			esc = 'n'
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// Unescape reverses AppendEscaped, appending to dst. It fails with
// ErrBadFrame on a backslash not followed by one of `\`, `r`, `n`, and on a
// raw CR or LF.
func Unescape(dst, s []byte) ([]byte, error) {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			return dst, ErrBadFrame
		}
		if c != '\\' {
			continue
		}
		if i+1 >= len(s) {
			return dst, ErrBadFrame
		}
		var raw byte
		switch s[i+1] {
		case '\\':
			raw = '\\'
		case 'r':
			raw = '\r'
		case 'n':
			raw = '\n'
		default:
			return dst, ErrBadFrame
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, raw)
		i++
		start = i + 1
	}
	return append(dst, s[start:]...), nil
}

// ParseFrame decodes one text or binary frame. It accepts only the frames
// AppendFrame writes, so a parsed frame re-encodes to the same bytes. The
// returned payload is freshly allocated. A Text payload that is not valid
// UTF-8 is returned with bytesocket.ErrInvalidUTF8 so the caller can close
// with StatusInvalidFramePayload; anything else malformed is ErrBadFrame.
func ParseFrame(line []byte) (bytesocket.MessageType, []byte, error) {
	if len(line) == 0 {
		return 0, nil, ErrBadFrame
	}
	switch line[0] {
	case 't':
		p, err := Unescape(make([]byte, 0, len(line)-1), line[1:])
		if err != nil {
			return 0, nil, err
		}
		if !utf8.Valid(p) {
			return bytesocket.Text, p, bytesocket.ErrInvalidUTF8
		}
		return bytesocket.Text, p, nil
	case 'b':
		if bytes.ContainsAny(line[1:], "\r\n") { // base64 would skip them
			return 0, nil, ErrBadFrame
		}
		p := make([]byte, base64.StdEncoding.DecodedLen(len(line)-1))
		n, err := base64.StdEncoding.Strict().Decode(p, line[1:])
		if err != nil {
			return 0, nil, ErrBadFrame
		}
		return bytesocket.Binary, p[:n], nil
	}
	return 0, nil, ErrBadFrame
}
