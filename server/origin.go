package server

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// SameOrigin allows a request whose Origin host equals its Host.
func SameOrigin(r *http.Request) bool {
	u, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// OriginChecker returns a CheckOrigin function for an allow-list of
// origins such as "https://app.example" or "http://*.example:8080"
// (path.Match patterns on the whole origin) or "*" for any origin.
// Same-host origins are always allowed.
func OriginChecker(allowed []string) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		return SameOrigin(r) || OriginAllowed(allowed, r.Header.Get("Origin"))
	}
}

// OriginAllowed reports whether origin matches the allow-list.
func OriginAllowed(allowed []string, origin string) bool {
	origin = strings.ToLower(origin)
	for _, a := range allowed {
		if a == "*" {
			return true
		}
		if ok, _ := path.Match(strings.ToLower(a), origin); ok {
			return true
		}
	}
	return false
}
