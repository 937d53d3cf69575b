package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// vecPlayer plays one conformance vector's steps against a server
// (docs/conformance/README.md, "Steps"): the Go twin of
// docs/conformance/lib/player.js. Each step returns the first difference.
type vecPlayer struct {
	base    string // the service URL, without a trailing slash
	vars    vecVars
	conns   map[string]*vecConn
	timeout time.Duration
	client  *http.Client
}

// vecConn is a named connection: an event stream being read, a request
// in flight, or a WebSocket.
type vecConn struct {
	kind   string // "stream", "async" or "ws"
	ferry  bool   // a Ferry WebSocket (its path has /.ferry/)
	items  *vecQueue
	raw    *vecRaw
	cancel context.CancelFunc
	done   chan vecResp
	ws     *websocket.Conn
}

type vecResp struct {
	status int
	close  bool // the connection closes after the response (Connection: close)
	header http.Header
	body   []byte
	err    error
}

type vecStep map[string]any

func newVecPlayer(base string, timeout time.Duration) *vecPlayer {
	u, _ := url.Parse(base)
	return &vecPlayer{
		base: strings.TrimRight(base, "/"), timeout: timeout, conns: map[string]*vecConn{},
		vars:   vecVars{"origin": u.Scheme + "://" + u.Host, "host": u.Host},
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}},
	}
}

func (p *vecPlayer) play(steps []vecStep) error {
	defer p.close()
	for i, s := range steps {
		if err := p.step(s); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, vecDescribe(s), err)
		}
	}
	return nil
}

func (p *vecPlayer) step(s vecStep) error {
	switch {
	case s["http"] != nil:
		return p.http(s)
	case s["await"] != nil:
		return p.await(s)
	case s["ws"] != nil:
		return p.ws(s)
	case s["send"] != nil:
		return p.send(s)
	case s["read"] != nil:
		return p.read(s)
	case s["cut"] != nil:
		return p.cut(s)
	case s["sleep"] != nil:
		ms, err := p.vars.expr(s["sleep"])
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return err
	}
	return errors.New("unknown step")
}

func vecDescribe(s vecStep) string {
	for _, k := range []string{"http", "await", "ws", "send", "read", "cut", "sleep"} {
		if v, ok := s[k]; ok {
			if k == "http" {
				if str, ok := v.(string); ok {
					return vecShort(str)
				}
				return vecShort(vecShow(v))
			}
			return fmt.Sprintf("%s %v", k, v)
		}
	}
	return "?"
}

func (p *vecPlayer) close() {
	for _, c := range p.conns {
		c.stop()
	}
}

func (c *vecConn) stop() {
	if c.ws != nil {
		_ = c.ws.NetConn().Close()
	}
	if c.cancel != nil {
		c.cancel()
	}
}

func (p *vecPlayer) wait(within any) (time.Duration, error) {
	if within == nil {
		return p.timeout, nil
	}
	ms, err := p.vars.expr(within)
	return time.Duration(ms) * time.Millisecond, err
}

func (p *vecPlayer) expectOf(s vecStep) map[string]any {
	e, _ := s["expect"].(map[string]any)
	if e == nil {
		e = map[string]any{}
	}
	return e
}

// http sends a request; see README.md, "http".
func (p *vecPlayer) http(s vecStep) error {
	line, err := p.vars.gen(s["http"])
	if err != nil {
		return err
	}
	method, path, _ := strings.Cut(line, " ")
	var body []byte
	if s["bodyHex"] != nil {
		body, err = p.vars.hex(s["bodyHex"])
	} else if s["body"] != nil {
		var b string
		b, err = p.vars.gen(s["body"])
		body = []byte(b)
	}
	if err != nil {
		return err
	}
	want := p.expectOf(s)
	wait, err := p.wait(want["within"])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var bodyR io.Reader
	partial, _ := s["partial"].(map[string]any)
	var pw *io.PipeWriter
	if partial != nil {
		bodyR, pw = io.Pipe()
	} else if body != nil {
		bodyR = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, bodyR)
	if err != nil {
		cancel()
		return err
	}
	req.ContentLength = int64(len(body))
	if body == nil {
		req.ContentLength = 0
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	if err := p.setHeaders(req.Header, s["headers"]); err != nil {
		cancel()
		return err
	}
	name, _ := s["stream"].(string)
	if a, ok := s["async"].(string); ok {
		name = a
	}
	c := &vecConn{done: make(chan vecResp, 1), cancel: func() {
		cancel()
		if pw != nil {
			pw.CloseWithError(errors.New("cut"))
		}
	}}
	switch {
	case s["stream"] != nil:
		c.kind, c.items, c.raw = "stream", newVecQueue(), &vecRaw{}
	case s["async"] != nil:
		c.kind = "async"
	default:
		defer c.cancel()
	}
	if name != "" {
		p.conns[name] = c
	}
	t0 := time.Now()
	go func() {
		resp, err := p.client.Do(req)
		if err != nil {
			c.done <- vecResp{err: err}
			return
		}
		if s["stream"] != nil {
			c.done <- vecResp{status: resp.StatusCode, header: resp.Header}
			p.readStream(c, resp.Body)
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.done <- vecResp{status: resp.StatusCode, close: resp.Close, header: resp.Header, body: b, err: err}
	}()
	if partial != nil {
		if cut, err := p.partial(partial, pw, body, c); cut || err != nil {
			return err
		}
	}
	if c.kind == "async" {
		return nil
	}
	var r vecResp
	select {
	case r = <-c.done:
	case <-time.After(wait):
		return fmt.Errorf("response: none within %v", wait)
	}
	if r.err != nil {
		return r.err
	}
	return p.check(want, r, time.Since(t0), s["save"], s["stream"] != nil)
}

// partial writes the first bytes of the body, then leaves the rest
// unsent ("stall") or drops the request ("cut").
func (p *vecPlayer) partial(spec map[string]any, pw *io.PipeWriter, body []byte, c *vecConn) (bool, error) {
	n, err := p.vars.expr(spec["bytes"])
	if err != nil {
		return false, err
	}
	go func() { _, _ = pw.Write(body[:n]) }()
	if spec["then"] == "cut" {
		time.Sleep(200 * time.Millisecond)
		c.cancel()
		return true, nil
	}
	return false, nil
}

func (p *vecPlayer) setHeaders(h http.Header, spec any) error {
	m, _ := spec.(map[string]any)
	for k, v := range m {
		if v == nil {
			h.Del(k)
			continue
		}
		s, err := p.vars.subst(v.(string))
		if err != nil {
			return err
		}
		h.Set(k, s)
	}
	return nil
}

func (p *vecPlayer) readStream(c *vecConn, body io.ReadCloser) {
	defer body.Close()
	ep := &vecEventParser{emit: c.items.push}
	buf := make([]byte, 64<<10)
	for {
		n, err := body.Read(buf)
		c.raw.add(buf[:n])
		ep.feed(buf[:n])
		if err != nil {
			ep.end()
			c.items.end(vecItem{kind: "end"})
			return
		}
	}
}

// check compares a response with an expect object.
func (p *vecPlayer) check(want map[string]any, r vecResp, elapsed time.Duration, saveSpec any, headOnly bool) error {
	vs := p.vars
	status := want["status"]
	if status == nil {
		status = float64(200)
	}
	if f, ok := status.(float64); ok && int(f) != r.status || !ok && vs.match(status, fmt.Sprint(r.status)) != "" {
		return fmt.Errorf("status %d, want %v: %s", r.status, vecShow(status), vecShort(strings.TrimSpace(string(r.body))))
	}
	for _, lim := range []string{"within", "after"} {
		if want[lim] == nil {
			continue
		}
		ms, err := vs.expr(want[lim])
		if err != nil {
			return err
		}
		d := time.Duration(ms) * time.Millisecond
		if lim == "within" && elapsed > d || lim == "after" && elapsed < d {
			return fmt.Errorf("answered after %v, want %s %v", elapsed.Round(time.Millisecond), lim, d)
		}
	}
	hm, _ := want["headers"].(map[string]any)
	for k, m := range hm {
		var v any
		if vals := r.header.Values(k); len(vals) > 0 {
			v = strings.Join(vals, ", ")
		} else if strings.EqualFold(k, "Connection") && r.close {
			v = "close" // net/http takes this header out of the response
		}
		if d := vs.match(m, v); d != "" {
			return fmt.Errorf("header %s: %s", k, d)
		}
	}
	if headOnly {
		return nil
	}
	return p.checkBody(want, r, saveSpec)
}

func (p *vecPlayer) checkBody(want map[string]any, r vecResp, saveSpec any) error {
	vs := p.vars
	text := string(r.body)
	if e, ok := want["error"].(string); ok {
		if err := vecCheckError(vs, e, r, text); err != nil {
			return err
		}
	}
	if want["body"] != nil {
		if d := vs.match(want["body"], text); d != "" {
			return errors.New("body: " + d)
		}
	}
	if want["lines"] != nil {
		var lines []any
		for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			lines = append(lines, l)
		}
		if d := vs.subset(want["lines"], lines, "lines"); d != "" {
			return errors.New(d)
		}
	}
	if want["frames"] != nil {
		if err := p.checkFrames(want["frames"].([]any), vecParseFrames(r.body)); err != nil {
			return err
		}
	}
	if want["json"] == nil && saveSpec == nil {
		return nil
	}
	var obj any
	if err := json.Unmarshal(r.body, &obj); err != nil {
		return fmt.Errorf("body is not JSON: %s", vecShort(text))
	}
	if want["json"] != nil {
		if d := vs.subset(want["json"], obj, ""); d != "" {
			return errors.New("json " + d)
		}
	}
	if sp, ok := saveSpec.(map[string]any); ok {
		return vs.save(sp, obj)
	}
	return nil
}

var vecErrorBody = regexp.MustCompile(`^ferry: [^\n]*\n?$`)

// vecCheckError checks PROTOCOL.md §2's error response.
func vecCheckError(vs vecVars, want string, r vecResp, text string) error {
	ct := r.header.Get("Content-Type")
	if !strings.EqualFold(strings.ReplaceAll(ct, " ", ""), "text/plain;charset=utf-8") {
		return fmt.Errorf("error Content-Type %q, want text/plain; charset=utf-8", ct)
	}
	if !vecErrorBody.MatchString(text) {
		return fmt.Errorf("error body %q: want one line starting \"ferry: \"", vecShort(text))
	}
	w, err := vs.subst(want)
	if err != nil {
		return err
	}
	if !strings.Contains(text, w) {
		return fmt.Errorf("error body %q: want it to contain %q", vecShort(text), w)
	}
	return nil
}

// checkFrames compares a whole body's frames: none may be left over.
func (p *vecPlayer) checkFrames(wants []any, frames []vecItem) error {
	list, err := p.vars.expand(wants)
	if err != nil {
		return err
	}
	for i, w := range list {
		if i >= len(frames) {
			return fmt.Errorf("frames: %d frames, want %d; missing %s", len(frames), len(list), vecShow(w))
		}
		if frames[i].kind == "error" {
			return errors.New(frames[i].text)
		}
		if d := p.vars.matchFrame(w, frames[i]); d != "" {
			return fmt.Errorf("frame %d: %v: %s", i+1, frames[i], d)
		}
	}
	if len(frames) > len(list) {
		return fmt.Errorf("frames: unexpected %v after the %d expected", frames[len(list)], len(list))
	}
	return nil
}

// await waits for an async request's response.
func (p *vecPlayer) await(s vecStep) error {
	name := s["await"].(string)
	c := p.conns[name]
	if c == nil || c.kind != "async" {
		return fmt.Errorf("no request in flight named %q", name)
	}
	want := p.expectOf(s)
	wait, err := p.wait(want["within"])
	if err != nil {
		return err
	}
	t0 := time.Now()
	select {
	case r := <-c.done:
		delete(p.conns, name)
		if r.err != nil {
			return r.err
		}
		return p.check(want, r, time.Since(t0), s["save"], false)
	case <-time.After(wait):
		return fmt.Errorf("response: none within %v", wait)
	}
}

// ws opens a WebSocket; see README.md, "ws".
func (p *vecPlayer) ws(s vecStep) error {
	path, err := p.vars.subst(s["ws"].(string))
	if err != nil {
		return err
	}
	h := http.Header{}
	if err := p.setHeaders(h, s["headers"]); err != nil {
		return err
	}
	want := p.expectOf(s)
	if want["status"] == nil {
		want["status"] = float64(101)
	}
	wait, err := p.wait(want["within"])
	if err != nil {
		return err
	}
	d := websocket.Dialer{HandshakeTimeout: wait}
	t0 := time.Now()
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(p.base, "http")+path, h)
	if resp == nil {
		return err
	}
	r := vecResp{status: resp.StatusCode, header: resp.Header}
	if conn == nil {
		r.body, _ = io.ReadAll(resp.Body)
		return p.check(want, r, time.Since(t0), s["save"], false)
	}
	name, _ := s["as"].(string)
	if name == "" {
		name = "ws"
	}
	c := &vecConn{kind: "ws", ws: conn, items: newVecQueue(), ferry: strings.Contains(path, "/.ferry/")}
	p.conns[name] = c
	go vecWSReader(c, s["autoPong"] != false)
	return p.check(want, r, time.Since(t0), nil, true)
}

// vecWSReader turns what a WebSocket receives into items: messages, pings,
// the close frame (answered with its code), and the end.
func vecWSReader(c *vecConn, autoPong bool) {
	conn := c.ws
	conn.SetPingHandler(func(data string) error {
		c.items.push(vecItem{kind: "ping"})
		if autoPong {
			_ = conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		}
		return nil
	})
	conn.SetCloseHandler(func(code int, text string) error {
		c.items.push(vecItem{kind: "close", code: code, reason: text})
		msg := []byte{}
		if code != websocket.CloseNoStatusReceived {
			msg = binary.BigEndian.AppendUint16(nil, uint16(code))
		}
		_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		return nil
	})
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) { // wait for the server to end the connection
				_, _ = io.Copy(io.Discard, conn.NetConn())
			}
			c.items.end(vecItem{kind: "end"})
			return
		}
		kind := "binary"
		if typ == websocket.TextMessage {
			kind = "text"
		}
		c.items.push(vecItem{kind: kind, data: data})
	}
}

// send writes WebSocket frames.
func (p *vecPlayer) send(s vecStep) error {
	c := p.conns[s["send"].(string)]
	if c == nil || c.kind != "ws" {
		return fmt.Errorf("no WebSocket named %v", s["send"])
	}
	vs := p.vars
	typ, payload, err := websocket.BinaryMessage, []byte(nil), error(nil)
	var str string
	switch {
	case s["text"] != nil:
		typ = websocket.TextMessage
		str, err = vs.gen(s["text"])
		payload = []byte(str)
	case s["textHex"] != nil:
		typ = websocket.TextMessage
		payload, err = vs.hex(s["textHex"])
	case s["binary"] != nil:
		payload, err = vs.hex(s["binary"])
	case s["base64"] != nil:
		if str, err = vs.gen(s["base64"]); err == nil {
			payload, err = base64.StdEncoding.DecodeString(str)
		}
	case s["control"] != nil:
		str, err = vs.gen(s["control"])
		payload = append([]byte{1}, str...)
	case s["close"] != nil:
		typ = websocket.CloseMessage
		payload, err = vecClosePayload(vs, s["close"].(map[string]any))
	case s["ping"] != nil:
		typ = websocket.PingMessage
		payload, err = vs.hex(s["ping"])
	default:
		return errors.New("send what?")
	}
	if err != nil {
		return err
	}
	times := int64(1)
	if s["times"] != nil {
		if times, err = vs.expr(s["times"]); err != nil {
			return err
		}
	}
	for range times {
		if typ == websocket.CloseMessage || typ == websocket.PingMessage {
			err = c.ws.WriteControl(typ, payload, time.Now().Add(time.Second))
		} else {
			err = c.ws.WriteMessage(typ, payload)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func vecClosePayload(vs vecVars, spec map[string]any) ([]byte, error) {
	if spec["payload"] != nil {
		return vs.hex(spec["payload"])
	}
	if spec["code"] == nil {
		return nil, nil
	}
	reason := ""
	if spec["reason"] != nil {
		var err error
		if reason, err = vs.gen(spec["reason"]); err != nil {
			return nil, err
		}
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(spec["code"].(float64))), reason...), nil
}

// cut drops a connection: a stream, a request in flight, a WebSocket.
func (p *vecPlayer) cut(s vecStep) error {
	name := s["cut"].(string)
	c := p.conns[name]
	if c == nil {
		return fmt.Errorf("no connection named %q", name)
	}
	c.stop()
	delete(p.conns, name)
	time.Sleep(50 * time.Millisecond) // let the server see it before the next step
	return nil
}

// vecQueue hands received items to one reader that waits with a
// deadline; after end, a reader that finds it empty gets the end item.
type vecQueue struct {
	mu     sync.Mutex
	items  []vecItem
	final  *vecItem
	signal chan struct{}
}

func newVecQueue() *vecQueue { return &vecQueue{signal: make(chan struct{}, 1)} }

func (q *vecQueue) push(it vecItem) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	q.wake()
}

func (q *vecQueue) end(it vecItem) {
	q.mu.Lock()
	if q.final == nil {
		q.final = &it
	}
	q.mu.Unlock()
	q.wake()
}

func (q *vecQueue) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// shift returns the next item, or false when none came by deadline.
func (q *vecQueue) shift(deadline time.Time) (vecItem, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			it := q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			return it, true
		}
		if q.final != nil {
			it := *q.final
			q.mu.Unlock()
			return it, true
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-time.After(time.Until(deadline)):
			return vecItem{}, false
		}
	}
}

// vecRaw keeps the first MiB of a stream's bytes.
type vecRaw struct {
	mu sync.Mutex
	b  []byte
}

func (r *vecRaw) add(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.b) < 1<<20 {
		r.b = append(r.b, p...)
	}
}

func (r *vecRaw) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.b)
}
