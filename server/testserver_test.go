package server_test

import (
	"net/http"
	"net/http/httptest"

	"github.com/ferrygw/ferry/server"
)

// newServer starts an httptest server for h that lets carriers give
// connections back (server.HandBackListener), as Gateway.Serve does, so
// the tests run waiting long-polls off net/http like production.
func newServer(h http.Handler) *httptest.Server {
	ts := httptest.NewUnstartedServer(h)
	hl := server.NewHandBackListener(ts.Listener)
	ts.Listener = hl
	ts.Config.ConnContext = hl.ConnContext
	ts.Start()
	return ts
}
