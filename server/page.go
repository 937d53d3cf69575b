package server

import (
	_ "embed"
	"net/http"
)

//go:embed page.html
var pageHTML []byte

func servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(pageHTML)
}
