package emulation

import (
	"mime"
	"net/http"
	"slices"
	"strconv"
)

// Transport names: the carriers a service offers (PROTOCOL.md §4).
const (
	TransportWebSocket = "websocket" // the Ferry WebSocket, and plain RFC 6455 at the service path
	TransportSSE       = "sse"
	TransportLongPoll  = "longpoll"
)

// Transports lists every carrier, in the default order of preference.
var Transports = []string{TransportWebSocket, TransportSSE, TransportLongPoll}

// Offers reports whether the server offers the carrier named t.
func (sv *Server) Offers(t string) bool {
	sv.Init()
	return slices.Contains(sv.Transports, t)
}

// checkTransport validates the transport an open request names: empty,
// sse or longpoll, and offered.
func (sv *Server) checkTransport(t string) error {
	switch {
	case t == "":
		return nil
	case t != TransportSSE && t != TransportLongPoll:
		return errWith(ErrBadTransport, strconv.Quote(trunc(t, 32)))
	case !sv.Offers(t):
		return errWith(ErrTransportOff, t)
	}
	return nil
}

// checkContentType accepts an upstream body labelled text/plain (any
// parameters) or not labelled at all (PROTOCOL.md §5.2).
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	if t, _, err := mime.ParseMediaType(ct); err != nil || t != "text/plain" {
		return errWith(ErrContentType, strconv.Quote(trunc(ct, 64)))
	}
	return nil
}
