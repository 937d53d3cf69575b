package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// AuthConfig protects the requests that open a session: the plain
// WebSocket upgrade at the service path, B/.ferry/ws and POST
// B/.ferry/open. Later requests of a session are authorized by its id.
// Credentials are never read from URLs.
//
// With Bearer set, a request must carry one of the tokens in an
// "Authorization: Bearer" header or, since a browser's WebSocket cannot set
// headers, in the cookie named by Cookie. With Hook set, the request must
// also be allowed by the hook. Tokens are compared in constant time.
type AuthConfig struct {
	// Bearer lists the accepted tokens. Empty means no token check (only
	// the Hook, if any).
	Bearer []string
	// Cookie names a cookie whose value is accepted as a token from
	// Bearer. Empty means tokens are read from the Authorization header
	// only.
	Cookie string
	// Hook is an http or https URL asked about every session-opening
	// request: Ferry POSTs a JSON object {"service", "origin", "remote",
	// "headers"} (headers: the request's headers, including Cookie and
	// Authorization) and allows the request on a 2xx answer, refuses it
	// with 403 on 401 or 403, and with 503 on anything else or no answer.
	// Empty means no hook.
	Hook string
	// HookTimeout bounds a hook request. Default 5 s.
	HookTimeout time.Duration
	// HookClient sends hook requests; nil means http.DefaultClient (with
	// HookTimeout applied per request).
	HookClient *http.Client
}

// DefaultHookTimeout is AuthConfig.HookTimeout's default.
const DefaultHookTimeout = 5 * time.Second

// Validate reports a configuration that could never allow a request or
// that would put credentials somewhere unsafe.
func (a *AuthConfig) Validate() error {
	if a.Cookie != "" && len(a.Bearer) == 0 {
		return errors.New("server: auth cookie needs bearer tokens to compare with")
	}
	if len(a.Bearer) == 0 && a.Hook == "" {
		return errors.New("server: auth needs bearer tokens or a hook")
	}
	for _, t := range a.Bearer {
		if t == "" {
			return errors.New("server: empty bearer token")
		}
	}
	if a.Hook != "" {
		u, err := url.Parse(a.Hook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("server: auth hook must be an http or https URL")
		}
	}
	return nil
}

// authorizer checks a service's AuthConfig.
type authorizer struct {
	service string
	tokens  [][sha256.Size]byte // hashes, so comparisons take the same time whatever the length
	cookie  string
	hook    string
	timeout time.Duration
	client  *http.Client
}

func newAuthorizer(service string, a *AuthConfig) *authorizer {
	az := &authorizer{service: service, cookie: a.Cookie, hook: a.Hook,
		timeout: a.HookTimeout, client: a.HookClient}
	for _, t := range a.Bearer {
		az.tokens = append(az.tokens, sha256.Sum256([]byte(t)))
	}
	if az.timeout <= 0 {
		az.timeout = DefaultHookTimeout
	}
	if az.client == nil {
		az.client = http.DefaultClient
	}
	return az
}

var (
	refuseNoToken  = &refusal{status: http.StatusUnauthorized, reason: "ferry: missing credentials"}
	refuseBadToken = &refusal{status: http.StatusUnauthorized, reason: "ferry: invalid credentials"}
	refuseHookDeny = &refusal{status: http.StatusForbidden, reason: "ferry: access denied"}
	refuseHookFail = &refusal{status: http.StatusServiceUnavailable, reason: "ferry: authorization unavailable"}
)

// check returns nil when r may open a session.
func (az *authorizer) check(r *http.Request) *refusal {
	if len(az.tokens) > 0 {
		if rf := az.checkToken(r); rf != nil {
			return rf
		}
	}
	if az.hook != "" {
		return az.askHook(r)
	}
	return nil
}

// checkToken accepts a request carrying a listed token in the
// Authorization header or, failing that, in the cookie.
func (az *authorizer) checkToken(r *http.Request) *refusal {
	var presented []string
	if tok, ok := bearerToken(r.Header.Get("Authorization")); ok {
		presented = append(presented, tok)
	}
	if az.cookie != "" {
		for _, c := range r.CookiesNamed(az.cookie) {
			presented = append(presented, c.Value)
		}
	}
	if len(presented) == 0 {
		return refuseNoToken
	}
	for _, p := range presented {
		if az.valid(p) {
			return nil
		}
	}
	return refuseBadToken
}

// valid compares tok with every listed token in constant time.
func (az *authorizer) valid(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	ok := 0
	for i := range az.tokens {
		ok |= subtle.ConstantTimeCompare(h[:], az.tokens[i][:])
	}
	return ok == 1
}

// bearerToken extracts the token of an "Authorization: Bearer" value.
func bearerToken(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// hookRequest is the JSON body sent to an auth hook.
type hookRequest struct {
	Service string      `json:"service"`
	Origin  string      `json:"origin"`
	Remote  string      `json:"remote"`
	Headers http.Header `json:"headers"`
}

// askHook asks the hook about r.
func (az *authorizer) askHook(r *http.Request) *refusal {
	body, _ := json.Marshal(hookRequest{Service: az.service, Origin: r.Header.Get("Origin"),
		Remote: r.RemoteAddr, Headers: r.Header})
	ctx, cancel := context.WithTimeout(r.Context(), az.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, az.hook, bytes.NewReader(body))
	if err != nil {
		return refuseHookFail
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := az.client.Do(req)
	if err != nil {
		return refuseHookFail
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return refuseHookDeny
	}
	return refuseHookFail
}

// authMiddleware refuses session-opening requests that fail the
// service's AuthConfig.
func (h *Service) authMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rf := h.auth.check(r); rf != nil {
			if rf.status == http.StatusUnauthorized {
				v := `Bearer realm="ferry"`
				if rf == refuseBadToken {
					v += `, error="invalid_token"`
				}
				w.Header().Set("WWW-Authenticate", v)
			}
			h.refuse(w, rf)
			return
		}
		next.ServeHTTP(w, r)
	})
}
