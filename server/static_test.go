package server_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferrygw/ferry/server"
)

// TestStaticRefuses serves a directory holding secrets an operator would
// not mean to publish (.env, .git) and a directory without index.html:
// none is served or listed, and only GET and HEAD are answered.
func TestStaticRefuses(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"index.html":           "<h1>home</h1>",
		".env":                 "SECRET=1",
		".git/config":          "[core]",
		".well-known/security": "contact",
		"sub/file.txt":         "in sub",
		"docs/index.html":      "docs",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := server.NewGateway(nil, nil)
	g.ServeStatic(dir)
	cases := []struct {
		method, path string
		want         int
		body         string
	}{
		{"GET", "/", 200, "<h1>home</h1>"},
		{"HEAD", "/", 200, ""},
		{"GET", "/sub/file.txt", 200, "in sub"},
		{"GET", "/docs/", 200, "docs"},
		{"GET", "/.env", 404, "ferry: not found\n"},
		{"GET", "/%2eenv", 404, "ferry: not found\n"},
		{"GET", "/sub/../.env", 404, "ferry: not found\n"},
		{"GET", "/.git/config", 404, "ferry: not found\n"},
		{"GET", "/.git/", 404, "ferry: not found\n"},
		{"GET", "/.well-known/security", 404, "ferry: not found\n"},
		{"GET", "/sub/", 404, "ferry: not found\n"},
		{"GET", "/sub", 404, "ferry: not found\n"},
		{"GET", "/missing", 404, ""},
		{"PUT", "/x", 405, "ferry: method not allowed\n"},
		{"POST", "/", 405, "ferry: method not allowed\n"},
		{"DELETE", "/index.html", 405, "ferry: method not allowed\n"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.Host = "127.0.0.1"
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != tc.want || tc.body != "" && w.Body.String() != tc.body {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, w.Code, w.Body.String(), tc.want, tc.body)
		}
		if tc.want == 405 && w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, w.Header().Get("Allow"))
		}
	}
}
