package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// read consumes what a stream or a WebSocket received; see
// docs/conformance/README.md, "read". Exactly one of frames, messages,
// raw, end, silence, close or ping says what to wait for.
func (p *vecPlayer) read(s vecStep) error {
	name := s["read"].(string)
	c := p.conns[name]
	if c == nil || c.kind == "async" {
		return fmt.Errorf("no stream or WebSocket named %q", name)
	}
	wait, err := p.wait(s["within"])
	if err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	skip := []any{"h"}
	if c.kind == "ws" && !c.ferry {
		skip = nil
	}
	if l, ok := s["skip"].([]any); ok {
		skip = l
	}
	skippable := func(it vecItem) bool {
		if c.kind == "ws" {
			return it.kind == "ping" || slices.Contains(skip, any(string(it.controlKind())))
		}
		return it.kind == "frame" && it.seq < 0 && it.text != "" && slices.Contains(skip, any(it.text[:1]))
	}
	r := &vecReader{q: c.items, deadline: deadline, skippable: skippable}
	switch {
	case s["frames"] != nil || s["messages"] != nil:
		return p.sequence(s, c, r)
	case s["raw"] != nil:
		for {
			d := p.vars.match(s["raw"], c.raw.String())
			if d == "" {
				return nil
			}
			if time.Now().After(deadline) {
				return errors.New("raw body: " + d)
			}
			time.Sleep(10 * time.Millisecond)
		}
	case s["silence"] != nil:
		ms, err := p.vars.expr(s["silence"])
		if err != nil {
			return err
		}
		r.deadline = time.Now().Add(time.Duration(ms) * time.Millisecond)
		if it, ok := r.until(func(vecItem) bool { return false }); ok {
			return fmt.Errorf("%v during the silence", it)
		}
		return nil
	case s["end"] != nil:
		r.alsoSkip = func(it vecItem) bool { return it.kind == "close" }
		return r.expect("the end", func(it vecItem) bool { return it.kind == "end" }, nil)
	case s["close"] != nil:
		return r.expect("a close frame", func(it vecItem) bool { return it.kind == "close" }, func(it vecItem) error {
			return vecCloseDiff(p.vars, s["close"].(map[string]any), it)
		})
	case s["ping"] != nil:
		return r.expect("a ping", func(it vecItem) bool { return it.kind == "ping" }, nil)
	}
	return errors.New("a read needs one of frames, messages, raw, end, silence, close, ping")
}

// sequence reads until each expected frame or message has matched one,
// in order, dropping skippable items in between.
func (p *vecPlayer) sequence(s vecStep, c *vecConn, r *vecReader) error {
	list, _ := s["frames"].([]any)
	isWS := c.kind == "ws"
	if isWS {
		list, _ = s["messages"].([]any)
	}
	if (s["frames"] != nil) == isWS {
		return fmt.Errorf("frames are read on streams and messages on WebSockets")
	}
	wants, err := p.vars.expand(list)
	if err != nil {
		return err
	}
	saveSpec, _ := s["save"].(map[string]any)
	for i, w := range wants {
		for {
			it, ok := r.q.shift(r.deadline)
			if !ok {
				return fmt.Errorf("timed out waiting for item %d of %d: %s", i+1, len(wants), vecShow(w))
			}
			var d string
			switch {
			case it.kind == "error":
				d = it.text
			case isWS:
				d = p.vars.matchMessage(w, it)
			default:
				d = p.vars.matchFrame(w, it)
			}
			if d == "" {
				if err := p.saveFrom(saveSpec, w, it); err != nil {
					return err
				}
				saveSpec = nil
				break
			}
			if it.kind == "error" || !r.skippable(it) {
				return fmt.Errorf("item %d: %v: %s", i+1, it, d)
			}
		}
	}
	return nil
}

// saveFrom saves variables from the JSON of a matched o frame.
func (p *vecPlayer) saveFrom(spec map[string]any, w any, it vecItem) error {
	m, _ := w.(map[string]any)
	if spec == nil || m == nil || m["json"] == nil {
		return nil
	}
	text, kind := it.text, m["frame"]
	if it.kind != "frame" {
		text, kind = string(it.data[1:]), m["control"]
	}
	k, err := p.vars.gen(kind)
	if err != nil {
		return err
	}
	var obj any
	if err := json.Unmarshal([]byte(text[len(k):]), &obj); err != nil {
		return err
	}
	return p.vars.save(spec, obj)
}

func vecCloseDiff(vs vecVars, want map[string]any, it vecItem) error {
	if c, ok := want["code"].(float64); ok && int(c) != it.code {
		return fmt.Errorf("close code %d %q, want %v", it.code, it.reason, c)
	}
	if want["reason"] != nil {
		if d := vs.match(want["reason"], it.reason); d != "" {
			return errors.New("close reason: " + d)
		}
	}
	return nil
}

// vecReader reads a queue until a deadline, dropping skippable items.
type vecReader struct {
	q         *vecQueue
	deadline  time.Time
	skippable func(vecItem) bool
	alsoSkip  func(vecItem) bool
}

// until reads until done(item) and returns that item; an item that is
// not skippable is returned instead, with true. On timeout: false.
func (r *vecReader) until(done func(vecItem) bool) (vecItem, bool) {
	for {
		it, ok := r.q.shift(r.deadline)
		if !ok {
			return vecItem{}, false
		}
		if done(it) || !r.skippable(it) && (r.alsoSkip == nil || !r.alsoSkip(it)) {
			return it, true
		}
	}
}

// expect waits for an item that done accepts, checked by check.
func (r *vecReader) expect(what string, done func(vecItem) bool, check func(vecItem) error) error {
	it, ok := r.until(done)
	switch {
	case !ok:
		return errors.New("timed out waiting for " + what)
	case !done(it):
		return fmt.Errorf("%v before %s", it, what)
	case check != nil:
		return check(it)
	}
	return nil
}
