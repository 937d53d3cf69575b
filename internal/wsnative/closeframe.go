package wsnative

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
)

// closeScanner follows the frames a client sends, as the bytes are read
// and before gorilla/websocket parses them, to find the payload of the
// first close frame: gorilla/websocket reads a one-byte close payload as
// an empty one, so only the bytes tell the two apart. Data payloads are
// skipped, not copied. It stops at the first close frame, or at a header
// that gorilla/websocket fails with 1002 on its own.
type closeScanner struct {
	hdr     [14]byte // the frame header being read
	nhdr    int      // bytes of hdr read
	hlen    int      // the header's length, once its first two bytes are in
	left    uint64   // payload bytes of the current frame still to come
	isClose bool     // the current frame is a close frame
	payload [125]byte
	npay    int
	done    bool
}

// scan consumes bytes read from the client. Once a close frame is whole
// it returns the frame's unmasked payload and true.
func (s *closeScanner) scan(p []byte) ([]byte, bool) {
	for len(p) > 0 && !s.done {
		if s.hlen == 0 || s.nhdr < s.hlen {
			s.hdr[s.nhdr] = p[0]
			s.nhdr++
			p = p[1:]
			if s.nhdr == 2 {
				s.hlen = headerLen(s.hdr[1])
			}
			if s.nhdr == s.hlen {
				s.startPayload()
				if s.done {
					break
				}
				if s.isClose && s.left == 0 {
					return s.finish(), true
				}
			}
			continue
		}
		n := int(min(s.left, uint64(len(p))))
		if s.isClose {
			s.npay += copy(s.payload[s.npay:], p[:n])
		}
		p = p[n:]
		s.left -= uint64(n)
		if s.left == 0 {
			if s.isClose {
				return s.finish(), true
			}
			s.nhdr, s.hlen = 0, 0
		}
	}
	return nil, false
}

// headerLen returns the length of a frame header from its second byte:
// two bytes, the extended length, and the masking key.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// startPayload reads the whole header in s.hdr.
func (s *closeScanner) startPayload() {
	switch n := s.hdr[1] & 0x7f; n {
	case 126:
		s.left = uint64(binary.BigEndian.Uint16(s.hdr[2:]))
	case 127:
		s.left = binary.BigEndian.Uint64(s.hdr[2:])
	default:
		s.left = uint64(n)
	}
	if s.hdr[0]&0x0f != 0x8 { // not a close frame
		if s.left == 0 {
			s.nhdr, s.hlen = 0, 0
		}
		return
	}
	// gorilla/websocket fails unmasked and oversized control frames itself.
	s.isClose = true
	s.done = s.hdr[1]&0x80 == 0 || s.left > 125
}

// finish unmasks the close payload and stops the scan.
func (s *closeScanner) finish() []byte {
	s.done = true
	key := s.hdr[s.hlen-4 : s.hlen]
	p := s.payload[:s.npay]
	for i := range p {
		p[i] ^= key[i&3]
	}
	return p
}

// checkClose returns the answer to a client's close frame with payload p
// when gorilla/websocket (v1.5.3) would answer it wrongly, and ok true; the
// answer is also what the application reads. RFC 6455 §5.5.1 and §7.4
// make a one-byte payload and a code that may not be sent protocol errors
// (1002), and a reason that is not UTF-8 invalid data (1007);
// gorilla/websocket answers the first with an empty close, the last with
// 1002, reports both as something else, and refuses the valid code 1014.
func checkClose(p []byte) (answer bytesocket.CloseError, ok bool) {
	switch {
	case len(p) == 0:
		return answer, false
	case len(p) == 1:
		return bytesocket.CloseError{Code: bytesocket.StatusProtocolError, Reason: "one-byte close payload"}, true
	}
	code := bytesocket.StatusCode(binary.BigEndian.Uint16(p))
	reason := p[2:]
	switch {
	case !code.Sendable():
		return bytesocket.CloseError{Code: bytesocket.StatusProtocolError, Reason: "invalid close code " + strconv.Itoa(int(code))}, true
	case !utf8.Valid(reason):
		return bytesocket.CloseError{Code: bytesocket.StatusInvalidFramePayload, Reason: "invalid UTF-8 in close reason"}, true
	case code == bytesocket.StatusBadGateway:
		return bytesocket.CloseError{Code: code, Reason: string(reason)}, true
	}
	return answer, false
}
