package wire

import "encoding/json"

// OpenInfo is the JSON object of PROTOCOL.md §4: the answer to POST
// B/.ferry/open and the body of the "o" frame. A client ignores members it
// does not know, so this type only ever gains fields.
type OpenInfo struct {
	V            int      `json:"v"`
	Session      string   `json:"session"`
	Protocol     string   `json:"protocol"`
	Transports   []string `json:"transports"`
	HeartbeatMs  int64    `json:"heartbeatMs"`
	ResumeMs     int64    `json:"resumeTimeoutMs"`
	MaxMessage   int      `json:"maxMessageBytes"`
	MaxBody      int64    `json:"maxBodyBytes"`
	MaxFrames    int      `json:"maxBodyFrames"`
	WindowBytes  int      `json:"windowBytes"`
	WindowMsgs   int      `json:"windowMessages"`
	InboundBytes int      `json:"inboundBytes"`
	Ack          uint64   `json:"ack"`
}

// AppendOpen appends the "o" control frame for info.
func AppendOpen(dst []byte, info OpenInfo) []byte {
	b, _ := json.Marshal(info)
	return append(append(dst, KindOpen), b...)
}
