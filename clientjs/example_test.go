package clientjs_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/ferrygw/ferry/clientjs"
)

// Serve client.js next to an application; pages load it with
// <script src="/client.js"></script>.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("GET /client.js", clientjs.Handler())

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/client.js", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))
	// Output: 200 text/javascript; charset=utf-8 public, max-age=300
}
