package emulation

import (
	"encoding/json"
	"net/http"

	"github.com/ferrygw/ferry/wire"
)

// ServeOpen handles POST B/.ferry/open (PROTOCOL.md §4).
func (sv *Server) ServeOpen(w http.ResponseWriter, r *http.Request) {
	sv.Init()
	q := r.URL.Query()
	if _, err := wire.ParseVersion(q); err != nil {
		WriteError(w, err)
		return
	}
	if err := sv.checkTransport(q.Get("transport")); err != nil {
		WriteError(w, err)
		return
	}
	offered, err := wire.ParseProtocols(q.Get("protocols"))
	if err != nil {
		WriteError(w, err)
		return
	}
	proto, err := wire.SelectProtocol(offered, sv.Protocols)
	if err != nil {
		WriteError(w, err)
		return
	}
	s, err := sv.NewSession(r, proto)
	if err != nil {
		WriteError(w, err)
		return
	}
	if t := q.Get("transport"); t == TransportLongPoll {
		s.transport.Store(t)
	}
	body, _ := json.Marshal(s.Info())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}
