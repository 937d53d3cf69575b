package server

import (
	"context"
	"net/http"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/internal/ferryws"
	"github.com/ferrygw/ferry/internal/wsnative"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

const wsBatchBytes = 64 << 10

// serveFerryWS upgrades B/.ferry/ws (sid "") or B/.ferry/{sid}/ws and
// carries the session over it until the connection drops or a newer
// carrier replaces it.
func (h *Service) serveFerryWS(w http.ResponseWriter, r *http.Request, sid string) {
	s, last, respHdr, err := h.ferryWSSession(r, sid)
	if err != nil {
		emulation.WriteError(w, err)
		return
	}
	s.Hold()
	leg, err := s.AttachLeg(last, "websocket", true)
	if err == emulation.ErrOutsideWindow {
		s.Release()
		h.serveFerryWSFinal(w, r, s, emulation.OutsideWindow(last))
		return
	}
	if err != nil {
		s.Release()
		emulation.WriteError(w, err)
		return
	}
	conn, guard, err := wsnative.Upgrade(&h.upgrader, w, r, respHdr)
	if err != nil {
		leg.Detach()
		s.Release()
		return // the upgrader has answered
	}
	// Carry the session from goroutines of our own and return, so that
	// net/http lets go of the hijacked connection's buffers and its deep
	// handler stack while the session idles.
	go carryFerryWS(conn, guard, s, leg)
}

// serveFerryWSFinal upgrades and sends the "o" frame and b, the session's
// last words (a resume outside the retention window), then closes the
// connection.
func (h *Service) serveFerryWSFinal(w http.ResponseWriter, r *http.Request, s *emulation.Session, b wire.Batch) {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	defer conn.Close()
	msg := wire.AppendOpen([]byte{wire.WSControl}, s.Info())
	msg = wire.AppendWSBatch(wire.AppendServerFrame(nil, bytesocket.Binary, msg), b)
	_ = conn.NetConn().SetWriteDeadline(time.Now().Add(s.Config().Heartbeat))
	if _, err := conn.NetConn().Write(msg); err == nil {
		closeConn(conn, websocket.CloseNormalClosure, "")
	}
}

// carryFerryWS runs the writer here and the reader in a second goroutine
// until the connection drops or the leg ends. The guard pings a client
// that has sent nothing for a heartbeat and drops the connection when it
// answers nothing for another: the session then waits for a resume, as
// for any lost carrier.
func carryFerryWS(conn *websocket.Conn, guard *wsnative.Guard, s *emulation.Session, leg *emulation.Leg) {
	defer s.Release()
	defer leg.Detach()
	defer conn.Close()
	// No read limit on the connection: ferryws.ReadLoop drops a message
	// over the limit itself, keeping the connection for the session's close.
	hb := s.Config().Heartbeat
	guard.KeepAlive(hb, func() error {
		// The writer gives each batch 2*hb; so does the ping, which sets
		// the same connection's write deadline.
		return conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(2*hb))
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	info := s.Info() // one snapshot: the client resends from info.Ack+1
	open := wire.AppendOpen([]byte{wire.WSControl}, info)
	first := info.Ack + 1
	go func() {
		defer cancel()
		_ = ferryws.ReadLoop(ctx, conn, s.Channel, first, s.Config().MaxMessageBytes)
	}()
	writeFerryWS(ctx, conn, s, leg, open)
}

func (h *Service) ferryWSSession(r *http.Request, sid string) (*emulation.Session, uint64, http.Header, error) {
	if _, err := wire.ParseVersion(r.URL.Query()); err != nil {
		return nil, 0, nil, err
	}
	if sid != "" {
		s, err := h.emu.Lookup(sid)
		if err != nil {
			return nil, 0, nil, err
		}
		last, err := emulation.ParseLast(r)
		return s, last, nil, err
	}
	if !websocket.IsWebSocketUpgrade(r) {
		return nil, 0, nil, errNotUpgrade
	}
	offered, err := wire.ParseProtocolHeader(r.Header.Values("Sec-Websocket-Protocol"))
	if err != nil {
		return nil, 0, nil, err
	}
	proto, err := wire.SelectProtocol(offered, h.cfg.Protocols)
	if err != nil {
		return nil, 0, nil, err
	}
	s, err := h.emu.NewSession(r, proto)
	if err != nil {
		return nil, 0, nil, err
	}
	var hdr http.Header
	if proto != "" {
		hdr = http.Header{"Sec-Websocket-Protocol": {proto}}
	}
	return s, 0, hdr, nil
}

func writeFerryWS(ctx context.Context, conn *websocket.Conn, s *emulation.Session, leg *emulation.Leg, open []byte) {
	hb := s.Config().Heartbeat
	if conn.WriteMessage(websocket.BinaryMessage, open) != nil {
		return
	}
	// Each batch goes out as one write of pre-encoded frames, not one
	// write per frame; gorilla's own writes (control frames) are whole
	// writes too, so the two never interleave.
	nc := conn.NetConn()
	var buf []byte
	for {
		b, err := leg.Next(ctx, hb, wsBatchBytes)
		switch err {
		case nil:
		case emulation.ErrReplaced:
			closeConn(conn, 4000, "replaced")
			return
		case emulation.ErrSessionDone:
			closeConn(conn, 1000, "")
			return
		default:
			return
		}
		buf = wire.AppendWSBatch(buf[:0], b)
		_ = nc.SetWriteDeadline(time.Now().Add(2 * hb))
		if _, err := nc.Write(buf); err != nil {
			return
		}
		if cap(buf) > 256<<10 {
			buf = nil // don't keep a big batch's buffer while idle
		}
	}
}

func closeConn(conn *websocket.Conn, code int, reason string) {
	msg := websocket.FormatCloseMessage(code, reason)
	_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}
