package bench

import (
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/gorilla/websocket"
)

// Dialer opens one session to url over transport.
type Dialer func(ctx context.Context, url, transport string) (bytesocket.Socket, error)

var (
	targetsMu sync.RWMutex
	targets   = map[string]Dialer{}
)

// RegisterTarget makes `-target name` available (default target "ferry").
// It is meant to be called from init functions; it panics if name is empty,
// d is nil, or name is already registered.
func RegisterTarget(name string, d Dialer) {
	if name == "" || d == nil {
		panic("bench: RegisterTarget needs a name and a dialer")
	}
	targetsMu.Lock()
	defer targetsMu.Unlock()
	if _, dup := targets[name]; dup {
		panic("bench: target " + name + " registered twice")
	}
	targets[name] = d
}

// TargetNames returns the registered target names, sorted.
func TargetNames() []string {
	targetsMu.RLock()
	defer targetsMu.RUnlock()
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func lookupTarget(name string) Dialer {
	targetsMu.RLock()
	defer targetsMu.RUnlock()
	return targets[name]
}

func init() {
	RegisterTarget("ferry", DialFerry)
}

// DialFerry is the "ferry" target: Ferry's Go client, each session with
// its own HTTP connections. Transport "native" is a plain RFC 6455
// WebSocket (the client's "plain").
func DialFerry(ctx context.Context, url, transport string) (bytesocket.Socket, error) {
	return client.Dial(ctx, url, &client.Options{Transport: clientTransport(transport)})
}

func clientTransport(t string) string {
	if t == "native" {
		return client.Plain
	}
	return t
}

// ferryDialer returns the ferry target's dialer for one process: with
// share, every session shares one HTTP connection pool; with sources > 1,
// session i connects from 127.0.0.(1 + i mod sources), which multiplies
// the ephemeral ports available towards one loopback server address.
// sessions is how many sessions the process holds: the shared pool keeps
// that many idle connections, so that each long-poll finds its session's
// last connection instead of dialling a new one (a pool that kept fewer
// closed connections as fast as polls finished).
func ferryDialer(share bool, sources, sessions int) func(ctx context.Context, i int, url, transport string) (bytesocket.Socket, error) {
	if !share && sources <= 1 {
		return func(ctx context.Context, _ int, url, transport string) (bytesocket.Socket, error) {
			return DialFerry(ctx, url, transport)
		}
	}
	netDialer := func(i int) *net.Dialer {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: -1}
		if sources > 1 {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%sources))}
		}
		return d
	}
	var shared *http.Client
	if share {
		shared = &http.Client{Transport: splitTransport{
			streams: &http.Transport{DialContext: netDialer(0).DialContext, MaxIdleConns: max(sessions, 256),
				MaxIdleConnsPerHost: max(sessions, 256), IdleConnTimeout: time.Minute},
			posts: &http.Transport{DialContext: netDialer(0).DialContext, MaxIdleConnsPerHost: sharedPosts,
				MaxConnsPerHost: sharedPosts, IdleConnTimeout: time.Minute},
		}}
	}
	return func(ctx context.Context, i int, url, transport string) (bytesocket.Socket, error) {
		nd := netDialer(i)
		hc := shared
		if hc == nil {
			hc = &http.Client{Transport: &http.Transport{DialContext: nd.DialContext, MaxIdleConnsPerHost: 4}}
		}
		return client.Dial(ctx, url, &client.Options{
			Transport:  clientTransport(transport),
			HTTPClient: hc,
			Dialer:     &websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: nd.DialContext},
		})
	}
}

// sharedPosts is how many connections the sessions of a process share for
// their POSTs with -share-http.
const sharedPosts = 128

// splitTransport sends POSTs (upstream frames and acknowledgements) over a
// bounded pool and GETs (event streams and polls, one held per session)
// over their own connections, so that -share-http costs about one
// descriptor per session plus sharedPosts.
type splitTransport struct{ streams, posts http.RoundTripper }

// RoundTrip sends r over the pool for its method.
func (t splitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost {
		return t.posts.RoundTrip(r)
	}
	return t.streams.RoundTrip(r)
}
