package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// The data rules of the conformance vectors (docs/conformance/README.md):
// variables, expressions, generated strings, matchers, JSON subsets and
// the event-stream frame parser. A Go twin of docs/conformance/lib/format.js
// and lib/expect.js, so that the vectors run in CI without Node too.

var vecVar = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

type vecVars map[string]any

// subst replaces every {name} in s with the variable's value.
func (vs vecVars) subst(s string) (string, error) {
	var err error
	out := vecVar.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := vs[m[1:len(m)-1]]
		if !ok {
			err = fmt.Errorf("undefined variable %s", m)
			return m
		}
		return vecFormat(v)
	})
	return out, err
}

func vecFormat(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// expr evaluates a number, or a string of integers, variables, + - * /
// and parentheses.
func (vs vecVars) expr(e any) (int64, error) {
	if f, ok := e.(float64); ok {
		return int64(f), nil
	}
	s, ok := e.(string)
	if !ok {
		return 0, fmt.Errorf("not an expression: %v", e)
	}
	src, err := vs.subst(s)
	if err != nil {
		return 0, err
	}
	p := &vecExprParser{src: strings.ReplaceAll(src, " ", "")}
	v, err := p.sum()
	if err == nil && p.i != len(p.src) {
		err = fmt.Errorf("expression %q: unexpected %q", s, p.src[p.i:])
	}
	return v, err
}

type vecExprParser struct {
	src string
	i   int
}

func (p *vecExprParser) peek() byte {
	if p.i < len(p.src) {
		return p.src[p.i]
	}
	return 0
}

func (p *vecExprParser) sum() (int64, error) {
	v, err := p.product()
	for err == nil && (p.peek() == '+' || p.peek() == '-') {
		op := p.src[p.i]
		p.i++
		var w int64
		if w, err = p.product(); op == '+' {
			v += w
		} else {
			v -= w
		}
	}
	return v, err
}

func (p *vecExprParser) product() (int64, error) {
	v, err := p.atom()
	for err == nil && (p.peek() == '*' || p.peek() == '/') {
		op := p.src[p.i]
		p.i++
		var w int64
		if w, err = p.atom(); err == nil && op == '*' {
			v *= w
		} else if err == nil {
			if w == 0 {
				return 0, fmt.Errorf("expression %q: division by zero", p.src)
			}
			v /= w
		}
	}
	return v, err
}

func (p *vecExprParser) atom() (int64, error) {
	switch c := p.peek(); {
	case c == '(':
		p.i++
		v, err := p.sum()
		if err == nil && p.peek() != ')' {
			err = fmt.Errorf("expression %q: missing )", p.src)
		}
		p.i++
		return v, err
	case c == '-':
		p.i++
		v, err := p.atom()
		return -v, err
	case c >= '0' && c <= '9':
		j := p.i
		for p.i < len(p.src) && unicode.IsDigit(rune(p.src[p.i])) {
			p.i++
		}
		return strconv.ParseInt(p.src[j:p.i], 10, 64)
	}
	return 0, fmt.Errorf("expression %q: unexpected %q at %d", p.src, p.peek(), p.i)
}

// gen builds a generated string: a string, or a list of strings and
// {"repeat": s, "times": expr} parts.
func (vs vecVars) gen(g any) (string, error) {
	switch g := g.(type) {
	case string:
		return vs.subst(g)
	case []any:
		var b strings.Builder
		for _, part := range g {
			if s, ok := part.(string); ok {
				s, err := vs.subst(s)
				if err != nil {
					return "", err
				}
				b.WriteString(s)
				continue
			}
			m, _ := part.(map[string]any)
			rep, err := vs.gen(m["repeat"])
			if err != nil {
				return "", err
			}
			n, err := vs.expr(m["times"])
			if err != nil {
				return "", err
			}
			b.WriteString(strings.Repeat(rep, int(n)))
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("not a generated string: %v", g)
}

// hex decodes a generated hex string (spaces allowed).
func (vs vecVars) hex(g any) ([]byte, error) {
	s, err := vs.gen(g)
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(strings.Join(strings.Fields(s), ""))
}

// vecMatcher reports whether m is {"regex"}, {"prefix"}, {"not"},
// {"absent"} or {"type"}.
func vecMatcher(m any) (map[string]any, bool) {
	o, ok := m.(map[string]any)
	if !ok || len(o) != 1 {
		return nil, false
	}
	for k := range o {
		return o, k == "regex" || k == "prefix" || k == "not" || k == "absent" || k == "type"
	}
	return nil, false
}

// match compares an actual value (nil: absent) with a matcher and
// returns what differs, or "".
func (vs vecVars) match(m any, actual any) string {
	if o, ok := vecMatcher(m); ok {
		switch {
		case o["absent"] != nil:
			want := o["absent"] == true
			if (actual == nil) != want {
				return fmt.Sprintf("got %s, want absent=%v", vecShow(actual), want)
			}
			return ""
		case o["type"] != nil:
			if t := vecJSONType(actual); t != o["type"] {
				return fmt.Sprintf("got %s, want a %v", vecShow(actual), o["type"])
			}
			return ""
		case o["not"] != nil:
			if vs.match(o["not"], actual) == "" {
				return fmt.Sprintf("got %s, want anything else", vecShow(actual))
			}
			return ""
		case o["prefix"] != nil:
			want, err := vs.gen(o["prefix"])
			if err != nil {
				return err.Error()
			}
			if s, ok := actual.(string); !ok || !strings.HasPrefix(s, want) {
				return fmt.Sprintf("got %s, want it to start with %s", vecShow(actual), vecShow(want))
			}
			return ""
		}
		if actual == nil {
			return fmt.Sprintf("absent, want /%v/", o["regex"])
		}
		src, err := vs.subst(o["regex"].(string))
		if err != nil {
			return err.Error()
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return err.Error()
		}
		if !re.MatchString(vecFormat(actual)) {
			return fmt.Sprintf("got %s, want /%s/", vecShow(actual), src)
		}
		return ""
	}
	want, err := vs.gen(m)
	if err != nil {
		return err.Error()
	}
	if s, ok := actual.(string); !ok || s != want {
		return fmt.Sprintf("got %s, want %s", vecShow(actual), vecShow(want))
	}
	return ""
}

func vecJSONType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return "unknown"
}

// subset compares JSON: every member of an expected object must match,
// arrays element by element with equal lengths.
func (vs vecVars) subset(want, got any, path string) string {
	at := path
	if at == "" {
		at = "value"
	}
	if _, ok := vecMatcher(want); ok {
		if d := vs.match(want, got); d != "" {
			return at + ": " + d
		}
		return ""
	}
	switch w := want.(type) {
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %s, want %s", at, vecShow(got), vecShow(want))
		}
		for i := range w {
			if d := vs.subset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %s, want an object", at, vecShow(got))
		}
		for k, wv := range w {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if d := vs.subset(wv, g[k], p); d != "" {
				return d
			}
		}
		return ""
	case string:
		s, err := vs.subst(w)
		if err != nil {
			return err.Error()
		}
		want = s
	}
	if fmt.Sprint(want) != fmt.Sprint(got) || vecJSONType(want) != vecJSONType(got) {
		return fmt.Sprintf("%s: got %s, want %s", at, vecShow(got), vecShow(want))
	}
	return ""
}

// save sets variables from a JSON value: {"var": "dotted.path"}.
func (vs vecVars) save(spec map[string]any, obj any) error {
	for name, p := range spec {
		v := obj
		for _, k := range strings.Split(p.(string), ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		if v == nil {
			return fmt.Errorf("save %s: no %v in %s", name, p, vecShow(obj))
		}
		vs[name] = v
	}
	return nil
}

func vecShow(v any) string {
	if v == nil {
		return "nothing"
	}
	b, _ := json.Marshal(v)
	return vecShort(string(b))
}

func vecShort(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s...(%d chars)", s[:80], len(s))
	}
	return s
}

// vecItem is something received: a frame of an event stream or poll body
// (kind "frame"), or a WebSocket message ("text", "binary", "close",
// "ping"), or the end of it ("end"), or a protocol error ("error").
type vecItem struct {
	kind   string
	seq    int64 // frames: the number, or -1 for an unsequenced frame
	text   string
	data   []byte
	code   int
	reason string
}

func (it vecItem) String() string {
	switch it.kind {
	case "frame":
		if it.seq >= 0 {
			return vecShort(fmt.Sprintf("#%d %q", it.seq, it.text))
		}
		return vecShort(strconv.Quote(it.text))
	case "text":
		return vecShort("text " + strconv.Quote(string(it.data)))
	case "binary":
		if len(it.data) > 0 && it.data[0] == 1 {
			return vecShort("control " + strconv.Quote(string(it.data[1:])))
		}
		return vecShort("binary " + hex.EncodeToString(it.data))
	case "close":
		return fmt.Sprintf("close %d %q", it.code, it.reason)
	case "end":
		return "the end"
	}
	return it.kind + " " + it.text
}

// controlKind returns the kind letter of a control message, or 0.
func (it vecItem) controlKind() byte {
	if it.kind == "binary" && len(it.data) > 1 && it.data[0] == 1 {
		return it.data[1]
	}
	return 0
}

// vecEventParser parses the WHATWG event-stream format and numbers each
// event's frames from its id (PROTOCOL.md §5.1).
type vecEventParser struct {
	buf  []byte
	data []string
	id   *string
	emit func(vecItem)
}

func (p *vecEventParser) feed(b []byte) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexAny(p.buf, "\r\n")
		if i < 0 || (p.buf[i] == '\r' && i == len(p.buf)-1) {
			return // a CR at the end may be half of a CRLF
		}
		line := string(p.buf[:i])
		n := 1
		if p.buf[i] == '\r' && p.buf[i+1] == '\n' {
			n = 2
		}
		p.buf = p.buf[i+n:]
		p.line(line)
	}
}

func (p *vecEventParser) end() {
	if len(p.buf) > 0 {
		p.line(strings.TrimSuffix(string(p.buf), "\r"))
		p.buf = nil
	}
}

func (p *vecEventParser) line(l string) {
	if l == "" {
		p.dispatch()
		return
	}
	if l[0] == ':' {
		return
	}
	field, value, _ := strings.Cut(l, ":")
	value = strings.TrimPrefix(value, " ")
	switch {
	case field == "data":
		p.data = append(p.data, value)
	case field == "id" && !strings.Contains(value, "\x00"):
		p.id = &value
	}
}

func (p *vecEventParser) dispatch() {
	data, id := p.data, p.id
	p.data, p.id = nil, nil
	if len(data) == 0 {
		return
	}
	for _, it := range vecEventFrames(strings.Split(strings.Join(data, "\n"), "\n"), id) {
		p.emit(it)
	}
}

var vecDecimal = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

func vecEventFrames(lines []string, id *string) []vecItem {
	count := 0
	for _, l := range lines {
		if vecSequenced(l) {
			count++
		}
	}
	if count == 0 && id != nil {
		return []vecItem{{kind: "error", text: fmt.Sprintf("event with id %s has no sequenced frame", *id)}}
	}
	var seq int64
	if count > 0 {
		if id == nil || !vecDecimal.MatchString(*id) {
			return []vecItem{{kind: "error", text: fmt.Sprintf("event with %d sequenced frames has id %v", count, vecShow(id))}}
		}
		n, _ := strconv.ParseInt(*id, 10, 64)
		seq = n - int64(count) + 1
	}
	out := make([]vecItem, len(lines))
	for i, l := range lines {
		out[i] = vecItem{kind: "frame", seq: -1, text: l}
		if vecSequenced(l) {
			out[i].seq = seq
			seq++
		}
	}
	return out
}

func vecSequenced(l string) bool { return l != "" && strings.IndexByte("tbc", l[0]) >= 0 }

func vecParseFrames(body []byte) []vecItem {
	var out []vecItem
	p := &vecEventParser{emit: func(it vecItem) { out = append(out, it) }}
	p.feed(body)
	p.end()
	return out
}

// expand unrolls {"repeat": item, "times": n, "from": seq} in a list of
// expectations.
func (vs vecVars) expand(list []any) ([]any, error) {
	var out []any
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok || m["repeat"] == nil || m["times"] == nil {
			out = append(out, e)
			continue
		}
		n, err := vs.expr(m["times"])
		if err != nil {
			return nil, err
		}
		from := int64(-1)
		if m["from"] != nil {
			if from, err = vs.expr(m["from"]); err != nil {
				return nil, err
			}
		}
		for i := range n {
			one := map[string]any{}
			if s, ok := m["repeat"].(string); ok {
				one["frame"] = s
			} else {
				for k, v := range m["repeat"].(map[string]any) {
					one[k] = v
				}
			}
			if from >= 0 {
				one["seq"] = float64(from + i)
			}
			out = append(out, one)
		}
	}
	return out, nil
}

var vecFrameWant = regexp.MustCompile(`(?s)^#(\d+) (.*)$`)

// matchFrame compares a frame with "#N text", "text" or {"frame", "seq", "json"}.
func (vs vecVars) matchFrame(w any, it vecItem) string {
	if it.kind != "frame" {
		return "want a frame"
	}
	var frame, js any
	seq := int64(-2) // not checked
	if s, ok := w.(string); ok {
		seq = -1
		frame = s
		if m := vecFrameWant.FindStringSubmatch(s); m != nil {
			seq, _ = strconv.ParseInt(m[1], 10, 64)
			frame = m[2]
		}
	} else {
		m := w.(map[string]any)
		frame, js = m["frame"], m["json"]
		if v, ok := m["seq"]; ok {
			seq = -1
			if v != nil {
				n, err := vs.expr(v)
				if err != nil {
					return err.Error()
				}
				seq = n
			}
		}
	}
	if seq != -2 && it.seq != seq {
		if seq == -1 {
			return "want an unsequenced frame"
		}
		return fmt.Sprintf("number %d, want %d", it.seq, seq)
	}
	return vs.matchText(frame, js, it.text)
}

// matchText matches a frame's text, or its kind prefix and JSON rest.
func (vs vecVars) matchText(frame, js any, text string) string {
	if js == nil {
		return vs.match(frame, text)
	}
	kind, err := vs.gen(frame)
	if err != nil {
		return err.Error()
	}
	rest, ok := strings.CutPrefix(text, kind)
	if !ok {
		return fmt.Sprintf("got %s, want a %s frame", vecShow(text), kind)
	}
	var obj any
	if err := json.Unmarshal([]byte(rest), &obj); err != nil {
		return kind + " frame: " + err.Error()
	}
	return vs.subset(js, obj, "")
}

// matchMessage compares a WebSocket message with {"text"}, {"binary"},
// {"base64"} or {"control"[, "json"]}.
func (vs vecVars) matchMessage(w any, it vecItem) string {
	m := w.(map[string]any)
	if t, ok := m["text"]; ok {
		if it.kind != "text" {
			return "want a text message"
		}
		return vs.match(t, string(it.data))
	}
	if it.kind != "binary" {
		return "want a binary message"
	}
	if b, ok := m["binary"]; ok {
		want, err := vs.hex(b)
		if err != nil {
			return err.Error()
		}
		if !bytes.Equal(want, it.data) {
			return "want binary " + vecShort(hex.EncodeToString(want))
		}
		return ""
	}
	if b, ok := m["base64"]; ok {
		s, err := vs.gen(b)
		if err != nil {
			return err.Error()
		}
		want, err := base64.StdEncoding.DecodeString(s)
		if err != nil || !bytes.Equal(want, it.data) {
			return "want binary " + vecShort(hex.EncodeToString(want))
		}
		return ""
	}
	if len(it.data) == 0 || it.data[0] != 1 {
		return "want a control message (0x01)"
	}
	return vs.matchText(m["control"], m["json"], string(it.data[1:]))
}
