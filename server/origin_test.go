package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ferrygw/ferry/server"
)

// TestPerServiceOrigins checks that a service's own allow-list replaces
// the gateway's, for session opening and CORS preflights alike.
func TestPerServiceOrigins(t *testing.T) {
	g := server.NewGateway([]string{"http://app.example"}, nil)
	g.Handle("/open", server.ServiceConfig{}, server.Echo)
	g.Handle("/partner", server.ServiceConfig{Origins: []string{"http://partner.example"}}, server.Echo)
	ts := httptest.NewServer(g)
	defer ts.Close()
	cases := []struct {
		path, origin string
		want         int
	}{
		{"/open", "http://app.example", 200},
		{"/open", "http://partner.example", 403},
		{"/partner", "http://partner.example", 200},
		{"/partner", "http://app.example", 403},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("POST", ts.URL+tc.path+"/.ferry/open", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s from %s: %d, want %d", tc.path, tc.origin, resp.StatusCode, tc.want)
		}
		pre, _ := http.NewRequest("OPTIONS", ts.URL+tc.path+"/.ferry/open", nil)
		pre.Header.Set("Origin", tc.origin)
		pre.Header.Set("Access-Control-Request-Method", "POST")
		resp, err = http.DefaultClient.Do(pre)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		allowed := resp.Header.Get("Access-Control-Allow-Origin") == tc.origin
		if allowed != (tc.want == 200) {
			t.Errorf("%s preflight from %s: allow-origin %q", tc.path, tc.origin, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if allowed && resp.Header.Get("Access-Control-Max-Age") != "600" {
			t.Errorf("preflight not cacheable: Max-Age %q", resp.Header.Get("Access-Control-Max-Age"))
		}
	}
}
