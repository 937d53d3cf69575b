package clientjs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

//go:embed client.js
var source []byte

// CacheControl is the Cache-Control header Handler sends: browsers and
// shared caches may reuse the script for five minutes, then revalidate it
// with If-None-Match, which costs a 304 until the content changes.
const CacheControl = "public, max-age=300"

// served is the script prepared once: its ETag and gzip encoding.
var served = prepare(source)

type prepared struct {
	raw     []byte
	gzipped []byte // nil if compression does not pay
	etag    string // strong validator of raw; the gzip form adds "-gz"
}

func prepare(raw []byte) prepared {
	sum := sha256.Sum256(raw)
	p := prepared{raw: raw, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	if buf.Len() < len(raw) {
		p.gzipped = buf.Bytes()
	}
	return p
}

// Source returns the contents of client.js. The caller must not modify
// the slice.
func Source() []byte { return source }

// ETag returns the strong entity tag Handler sends for the uncompressed
// script; the gzip-encoded form's tag is the same with "-gz" appended
// inside the quotes.
func ETag() string { return served.etag }

// Handler returns an http.Handler that serves client.js at whatever path it
// is mounted on, for GET and HEAD (other methods get 405). It sends
// Content-Type text/javascript; charset=utf-8, a strong ETag, Cache-Control
// [CacheControl], and Vary: Accept-Encoding; it answers If-None-Match with
// 304 Not Modified, and sends the gzip encoding (compressed once, at start)
// when the request's Accept-Encoding allows it. It is safe for concurrent
// use.
func Handler() http.Handler { return served }

func (p prepared) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "ferry: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, etag := p.raw, p.etag
	h := w.Header()
	h.Set("Vary", "Accept-Encoding")
	if p.gzipped != nil && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		body, etag = p.gzipped, strings.TrimSuffix(p.etag, `"`)+`-gz"`
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	h.Set("Cache-Control", CacheControl)
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if matches(r.Header.Values("If-None-Match"), etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: listed
// (or "*" given) with a nonzero quality.
func acceptsGzip(values []string) bool {
	gz, star := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			q := quality(params)
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "gzip", "x-gzip":
				gz = q
			case "*":
				star = q
			}
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}

func quality(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0
			}
			return q
		}
	}
	return 1
}

// matches reports whether an If-None-Match header lists etag (weak
// comparison, as RFC 9110 requires for If-None-Match) or is "*".
func matches(values []string, etag string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == etag {
				return true
			}
		}
	}
	return false
}
