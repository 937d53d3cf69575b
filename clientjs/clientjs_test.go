package clientjs_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferrygw/ferry/clientjs"
)

func serve(t *testing.T, method string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, "/client.js", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	clientjs.Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func TestSource(t *testing.T) {
	src := clientjs.Source()
	if !bytes.Contains(src, []byte("Ferry")) || !bytes.Contains(src, []byte("'use strict'")) {
		t.Fatalf("Source() does not look like client.js (%d bytes)", len(src))
	}
}

func TestHandlerPlain(t *testing.T) {
	resp := serve(t, http.MethodGet, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !bytes.Equal(body, clientjs.Source()) {
		t.Fatal("body differs from Source()")
	}
	want := map[string]string{
		"Content-Type":     "text/javascript; charset=utf-8",
		"Cache-Control":    clientjs.CacheControl,
		"ETag":             clientjs.ETag(),
		"Vary":             "Accept-Encoding",
		"Content-Encoding": "",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if etag := clientjs.ETag(); !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
		t.Errorf("ETag %q is not a strong entity tag", etag)
	}
}

func TestHandlerGzip(t *testing.T) {
	for _, ae := range []string{"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*"} {
		resp := serve(t, http.MethodGet, map[string]string{"Accept-Encoding": ae})
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q", ae, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(body, clientjs.Source()) {
			t.Fatalf("gzip body does not decode to Source(): %v", err)
		}
		if etag := resp.Header.Get("ETag"); etag == clientjs.ETag() || !strings.HasSuffix(etag, `-gz"`) {
			t.Errorf("gzip ETag %q must differ from the identity one", etag)
		}
	}
	for _, ae := range []string{"", "identity", "br", "gzip;q=0", "*;q=0", "gzip;q=0, *"} {
		resp := serve(t, http.MethodGet, map[string]string{"Accept-Encoding": ae})
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: got Content-Encoding %q", ae, resp.Header.Get("Content-Encoding"))
		}
	}
}

func TestHandlerNotModified(t *testing.T) {
	plain := serve(t, http.MethodGet, nil).Header.Get("ETag")
	gz := serve(t, http.MethodGet, map[string]string{"Accept-Encoding": "gzip"}).Header.Get("ETag")
	tests := []struct {
		name, inm, ae string
		want          int
	}{
		{"identity match", plain, "", http.StatusNotModified},
		{"gzip match", gz, "gzip", http.StatusNotModified},
		{"weak match", "W/" + plain, "", http.StatusNotModified},
		{"in a list", `"nope", ` + plain, "", http.StatusNotModified},
		{"star", "*", "", http.StatusNotModified},
		{"stale", `"old"`, "", http.StatusOK},
		{"gzip tag, identity request", gz, "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serve(t, http.MethodGet, map[string]string{"If-None-Match": tt.inm, "Accept-Encoding": tt.ae})
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusNotModified {
				if len(body) != 0 || resp.Header.Get("ETag") == "" || resp.Header.Get("Content-Encoding") != "" {
					t.Errorf("304 with body %d bytes, ETag %q, Content-Encoding %q",
						len(body), resp.Header.Get("ETag"), resp.Header.Get("Content-Encoding"))
				}
			}
		})
	}
}

func TestHandlerMethods(t *testing.T) {
	resp := serve(t, http.MethodHead, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD: status %d, %d body bytes, Content-Length %q", resp.StatusCode, len(body), resp.Header.Get("Content-Length"))
	}
	resp = serve(t, http.MethodPost, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
