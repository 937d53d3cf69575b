package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
)

// fastHeartbeat keeps the tests quick: a Ferry WebSocket close handshake
// can wait for the next heartbeat to complete (a known client issue).
var fastHeartbeat = emulation.Config{Heartbeat: 200 * time.Millisecond}

// hookServer allows X-User alice, denies mallory, fails for anyone else.
func hookServer(t *testing.T) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Service string      `json:"service"`
			Remote  string      `json:"remote"`
			Headers http.Header `json:"headers"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Service != "/svc" || req.Remote == "" {
			http.Error(w, "bad hook request", http.StatusBadRequest)
			return
		}
		switch req.Headers.Get("X-User") {
		case "alice":
			w.WriteHeader(http.StatusNoContent)
		case "mallory":
			w.WriteHeader(http.StatusForbidden)
		case "slow":
			time.Sleep(time.Second)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

// refusedDial dials over every opening path and checks the refusal.
func refusedDial(t *testing.T, url string, h http.Header, status int, reason string) {
	t.Helper()
	for _, tr := range []string{client.SSE, client.WebSocket, client.Plain} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := client.Dial(ctx, url, &client.Options{Transport: tr, Header: h})
		cancel()
		if status == 0 {
			if err != nil {
				t.Fatalf("%s: %v, want success", tr, err)
			}
			closeAndWait(t, s)
			continue
		}
		var se *client.StatusError
		if !errors.As(err, &se) || se.Code != status || !strings.HasPrefix(se.Reason, "ferry: ") || !strings.Contains(se.Reason, reason) {
			t.Fatalf("%s: err %v, want %d %q", tr, err, status, reason)
		}
	}
}

func TestAuth(t *testing.T) {
	hook := hookServer(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	bearer := &server.AuthConfig{Bearer: []string{"s3cret", "other"}, Cookie: "ferry_token"}
	hooked := &server.AuthConfig{Hook: hook.URL, HookTimeout: 200 * time.Millisecond}
	cases := []struct {
		name   string
		auth   *server.AuthConfig
		header http.Header
		status int
		reason string
	}{
		{"open service", nil, nil, 0, ""},
		{"refused origin", bearer, http.Header{"Origin": {"http://evil.example"}, "Authorization": {"Bearer s3cret"}}, 403, "origin not allowed"},
		{"missing token", bearer, nil, 401, "missing credentials"},
		{"wrong token", bearer, http.Header{"Authorization": {"Bearer nope"}}, 401, "invalid credentials"},
		{"token prefix", bearer, http.Header{"Authorization": {"Bearer s3cre"}}, 401, "invalid credentials"},
		{"not bearer", bearer, http.Header{"Authorization": {"Basic czNjcmV0"}}, 401, "missing credentials"},
		{"right token", bearer, http.Header{"Authorization": {"Bearer s3cret"}}, 0, ""},
		{"second token", bearer, http.Header{"Authorization": {"bearer other"}}, 0, ""},
		{"cookie", bearer, http.Header{"Cookie": {"a=b; ferry_token=s3cret"}}, 0, ""},
		{"wrong cookie", bearer, http.Header{"Cookie": {"ferry_token=nope"}}, 401, "invalid credentials"},
		{"other cookie", bearer, http.Header{"Cookie": {"session=s3cret"}}, 401, "missing credentials"},
		{"hook allows", hooked, http.Header{"X-User": {"alice"}}, 0, ""},
		{"hook denies", hooked, http.Header{"X-User": {"mallory"}}, 403, "access denied"},
		{"hook fails", hooked, http.Header{"X-User": {"eve"}}, 503, "authorization unavailable"},
		{"hook times out", hooked, http.Header{"X-User": {"slow"}}, 503, "authorization unavailable"},
		{"hook unreachable", &server.AuthConfig{Hook: dead.URL}, nil, 503, "authorization unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := server.NewGateway([]string{"http://good.example"}, nil)
			g.Handle("/svc", server.ServiceConfig{Auth: tc.auth, Emulation: fastHeartbeat}, server.Echo)
			g.Handle("/other", server.ServiceConfig{}, server.Echo)
			ts := httptest.NewServer(g)
			defer ts.Close()
			ctx := context.Background()
			bystander, err := client.Dial(ctx, ts.URL+"/other", &client.Options{Transport: client.SSE})
			if err != nil {
				t.Fatal(err)
			}
			defer closeAndWait(t, bystander)
			refusedDial(t, ts.URL+"/svc", tc.header, tc.status, tc.reason)
			echoOnce(t, bystander, "still here")
		})
	}
}

// TestAuthHeaders checks the 401 challenge, that tokens in the query
// string are not accepted, and that a session's own requests need no
// credentials.
func TestAuthHeaders(t *testing.T) {
	g := server.NewGateway(nil, nil)
	g.Handle("/svc", server.ServiceConfig{Auth: &server.AuthConfig{Bearer: []string{"s3cret"}}, Emulation: fastHeartbeat}, server.Echo)
	ts := httptest.NewServer(g)
	defer ts.Close()
	for _, q := range []string{"", "?access_token=s3cret", "?token=s3cret"} {
		resp, err := http.Post(ts.URL+"/svc/.ferry/open"+q, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("open%s: %d %q", q, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	s, err := client.Dial(context.Background(), ts.URL+"/svc", &client.Options{
		Transport: client.LongPoll, Header: http.Header{"Authorization": {"Bearer s3cret"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, s, "still here")
	closeAndWait(t, s)
}

func TestAuthValidate(t *testing.T) {
	cases := []struct {
		name string
		a    server.AuthConfig
		ok   bool
	}{
		{"bearer", server.AuthConfig{Bearer: []string{"x"}}, true},
		{"cookie", server.AuthConfig{Bearer: []string{"x"}, Cookie: "c"}, true},
		{"hook", server.AuthConfig{Hook: "https://auth.example/check"}, true},
		{"nothing", server.AuthConfig{}, false},
		{"cookie without tokens", server.AuthConfig{Cookie: "c", Hook: "http://h"}, false},
		{"empty token", server.AuthConfig{Bearer: []string{""}}, false},
		{"hook not http", server.AuthConfig{Hook: "ftp://h"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.a.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
