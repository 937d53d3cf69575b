// Package clientjs serves client.js. (Placeholder until the client lands.)
package clientjs

import "net/http"

// Handler serves client.js.
func Handler() http.Handler { return http.NotFoundHandler() }
