package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/internal/wsnative"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// Transport names accepted in Options.
const (
	WebSocket = "websocket" // Ferry's resumable WebSocket
	SSE       = "sse"       // event stream down, POST up
	LongPoll  = "longpoll"  // long-poll down, POST up
	Plain     = "plain"     // RFC 6455 at the service URL, not resumable
)

// Options configures Dial. The zero value dials a resumable WebSocket.
type Options struct {
	// Transport is the carrier to open the session with. Default WebSocket.
	Transport string
	// Resume lists the carriers to resume on after a drop, tried in turn;
	// nil means Transport only.
	Resume []string
	// Protocols are the offered subprotocols.
	Protocols []string
	// Header is sent with every request (Origin, Cookie, ...).
	Header http.Header
	// HTTPClient carries SSE, long-poll and POST requests; nil means a
	// client with its own transport.
	HTTPClient *http.Client
	// Dialer opens WebSocket connections; nil means a default dialer.
	Dialer *websocket.Dialer
	// MaxBackoff caps the wait between resume attempts. Default 1 s.
	MaxBackoff time.Duration
	// MaxBatchBytes caps the payload bytes put in one POST (a single
	// larger message still goes alone). Default 64 KiB.
	MaxBatchBytes int
	// Logger receives carrier events; nil discards them.
	Logger *slog.Logger
}

// ErrHTTP is wrapped by errors for unexpected HTTP statuses.
var ErrHTTP = errors.New("client: unexpected HTTP status")

// Dial opens a session with the service at rawURL (ws, wss, http or
// https).
func Dial(ctx context.Context, rawURL string, opts *Options) (bytesocket.Socket, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if err := o.defaults(); err != nil {
		return nil, err
	}
	base, err := baseURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch o.Transport {
	case Plain:
		return dialPlain(ctx, base, &o)
	case WebSocket:
		return dialFerryWS(ctx, base, &o)
	}
	return dialHTTP(ctx, base, &o)
}

func (o *Options) defaults() error {
	if o.Transport == "" {
		o.Transport = WebSocket
	}
	for _, t := range append([]string{o.Transport}, o.Resume...) {
		switch t {
		case WebSocket, SSE, LongPoll:
		case Plain:
			if len(o.Resume) > 0 {
				return errors.New("client: a plain WebSocket cannot resume")
			}
		default:
			return fmt.Errorf("client: unknown transport %q", t)
		}
	}
	if len(o.Resume) == 0 {
		o.Resume = []string{o.Transport}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	}
	if o.Dialer == nil {
		o.Dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 64 << 10
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// baseURL returns the service URL in http(s) form without query.
func baseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return nil, fmt.Errorf("client: unsupported scheme %q", u.Scheme)
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

func wsURL(u *url.URL) string {
	v := *u
	v.Scheme = strings.Replace(v.Scheme, "http", "ws", 1)
	return v.String()
}

func (o *Options) wsHeader() http.Header {
	h := o.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if len(o.Protocols) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(o.Protocols, ", "))
	}
	return h
}

func dialPlain(ctx context.Context, base *url.URL, o *Options) (bytesocket.Socket, error) {
	conn, resp, err := o.Dialer.DialContext(ctx, wsURL(base), o.wsHeader())
	if err != nil {
		return nil, httpErr(resp, err)
	}
	return wsnative.New(conn, resp.Header, emulation.DefaultMaxMessageBytes), nil
}

// dialHTTP opens the session with POST open.
func dialHTTP(ctx context.Context, base *url.URL, o *Options) (bytesocket.Socket, error) {
	u := *base
	u.Path += "/.ferry/open"
	q := url.Values{"v": {versions}, "transport": {o.Transport}}
	if len(o.Protocols) > 0 {
		q.Set("protocols", strings.Join(o.Protocols, ","))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, err
	}
	setHeaders(req, o.Header)
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, httpErr(resp, nil)
	}
	var info wire.OpenInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&info); err != nil {
		return nil, fmt.Errorf("client: bad open response: %w", err)
	}
	c := newConn(base, o, info, req.Header)
	go c.run(nil)
	return c, nil
}

func setHeaders(req *http.Request, h http.Header) {
	for k, v := range h {
		req.Header[k] = v
	}
}

// httpErr describes a failed request with its status and reason line.
func httpErr(resp *http.Response, err error) error {
	if resp == nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &StatusError{Code: resp.StatusCode, Reason: strings.TrimSpace(string(b))}
}

// StatusError is an HTTP error answer from the server.
type StatusError struct {
	Code   int
	Reason string
}

// Error describes the status and the server's reason.
func (e *StatusError) Error() string {
	return fmt.Sprintf("client: HTTP %d: %s", e.Code, e.Reason)
}

// Unwrap returns ErrHTTP.
func (e *StatusError) Unwrap() error { return ErrHTTP }
