package server

import (
	"net/http"
	"path"
	"strings"
)

// ServeStatic serves the files of dir at / (index.html for the root and
// for directories) instead of the demo page; routes the gateway knows
// (services, /client.js, /healthz) take precedence. It answers GET and
// HEAD only (405 otherwise), never serves a file or directory whose name
// starts with a dot (404), and lists no directory: one without
// index.html is 404.
func (g *Gateway) ServeStatic(dir string) {
	h := &staticFiles{root: http.Dir(dir)}
	h.files = http.FileServer(h.root)
	g.router.Handle("/", h)
	g.router.NotFound(h.ServeHTTP)
}

// staticFiles serves a directory tree under the rules of ServeStatic.
type staticFiles struct {
	root  http.FileSystem
	files http.Handler // http.FileServer(root)
}

func (s *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, http.StatusMethodNotAllowed, "ferry: method not allowed")
		return
	}
	name := path.Clean("/" + r.URL.Path)
	if hidden(name) || s.isBareDir(name) {
		writeStatus(w, http.StatusNotFound, errNotFound.Error())
		return
	}
	s.files.ServeHTTP(w, r)
}

// hidden reports whether a cleaned path has a segment starting with a
// dot (.env, .git/config).
func hidden(name string) bool {
	return strings.Contains(name, "/.")
}

// isBareDir reports whether name is a directory without index.html,
// which http.FileServer would list.
func (s *staticFiles) isBareDir(name string) bool {
	f, err := s.root.Open(name)
	if err != nil {
		return false // http.FileServer answers 404 (or 403)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil || !fi.IsDir() {
		return false
	}
	index, err := s.root.Open(path.Join(name, "index.html"))
	if err != nil {
		return true
	}
	index.Close()
	return false
}
