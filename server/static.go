package server

import "net/http"

// ServeStatic serves the files of dir at / (index.html for the root)
// instead of the demo page; routes the gateway knows (services,
// /client.js, /healthz) take precedence.
func (g *Gateway) ServeStatic(dir string) {
	fs := http.FileServer(http.Dir(dir))
	g.router.Handle("/", fs)
	g.router.NotFound(fs.ServeHTTP)
}
