package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/internal/chromium"
	"github.com/ferrygw/ferry/server"
)

// env is the package's shared fixture, built by TestMain.
var env struct {
	mainURL  string // gateway with the test pages: http://127.0.0.1:M
	corsURL  string // gateway that allows only pagesURL: http://127.0.0.1:B
	pagesURL string // pages server: http://127.0.0.1:A
	pagesAlt string // the same pages server under another origin: http://localhost:A
	deadPort int    // a loopback port nothing listens on

	browser    context.Context // a chromedp context that owns the browser
	browserErr error           // why there is no browser
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	stop, err := startServers(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer stop()

	closeBrowser := startBrowser()
	defer closeBrowser()
	// The proxies and the proxied browsers start lazily; stop them after
	// the tests, before the servers behind them.
	defer stopNetwork()
	return m.Run()
}

// logger returns the gateways' logger: stderr with FERRY_E2E_LOG=1, nil
// (discard) otherwise.
func logger() *slog.Logger {
	if os.Getenv("FERRY_E2E_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startServers starts the main gateway (with the test pages), the CORS
// gateway and the pages server, and returns a func that stops them.
func startServers(ctx context.Context) (stop func(), err error) {
	lnMain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lnCORS, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lnPages, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	env.deadPort = dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	env.mainURL = "http://" + lnMain.Addr().String()
	env.corsURL = "http://" + lnCORS.Addr().String()
	env.pagesURL = "http://" + lnPages.Addr().String()
	env.pagesAlt = "http://localhost:" + portOf(lnPages.Addr())

	// Main gateway: same-host pages only. The test pages share its origin.
	gw := server.NewGateway(nil, logger())
	mountServices(gw)
	pages := pagesHandler(gw)
	mux := http.NewServeMux()
	mux.Handle("/e2e/", pages)
	mux.Handle("/", gw)
	mainSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = mainSrv.Serve(lnMain) }()

	// CORS gateway: allows the pages server's 127.0.0.1 origin and nothing
	// else; served by Gateway.Serve, so its shutdown path runs too.
	cgw := server.NewGateway([]string{env.pagesURL}, logger())
	mountServices(cgw)
	cctx, ccancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- cgw.Serve(cctx, lnCORS, 2*time.Second) }()

	pagesSrv := &http.Server{Handler: pages, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = pagesSrv.Serve(lnPages) }()

	return func() {
		ccancel()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "e2e: CORS gateway Serve:", err)
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = pagesSrv.Shutdown(sctx)
		_ = mainSrv.Shutdown(sctx)
		_ = mainSrv.Close()
	}, nil
}

func portOf(a net.Addr) string {
	return strconv.Itoa(a.(*net.TCPAddr).Port)
}

// mountServices mounts the services the pages use on a gateway.
func mountServices(gw *server.Gateway) {
	cfg := server.ServiceConfig{Protocols: []string{"*"}}
	gw.Handle("/echo", cfg, server.Echo)
	gw.Handle("/closer", cfg, closer)
}

// closer echoes messages until it reads the text message "close CODE
// REASON", then closes the socket with that code and reason: the
// server-initiated close.
func closer(s bytesocket.Socket) {
	ctx := context.Background()
	for {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		if rest, ok := strings.CutPrefix(string(p), "close "); ok && typ == bytesocket.Text {
			codeStr, reason, _ := strings.Cut(rest, " ")
			code, _ := strconv.Atoi(codeStr)
			_ = s.Close(bytesocket.StatusCode(code), reason)
			// Drain until the peer's answer, so the handshake completes
			// before the service returns.
			for {
				if _, _, err := s.Read(ctx); err != nil {
					return
				}
			}
		}
		if err := s.Write(ctx, typ, p); err != nil {
			return
		}
	}
}

// pagesHandler serves testdata under /e2e/ and /client.js. client.js comes
// from the gateway; should the gateway fail to serve it, the file on disk
// stands in so the browser tests still test the client, and
// TestClientJSServed fails.
func pagesHandler(gw http.Handler) http.Handler {
	files := http.StripPrefix("/e2e/", http.FileServer(http.Dir("testdata")))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case strings.HasPrefix(r.URL.Path, "/e2e/"):
			files.ServeHTTP(w, r)
		case r.URL.Path == "/client.js":
			serveClientJS(w, r, gw)
		default:
			http.NotFound(w, r)
		}
	})
}

func serveClientJS(w http.ResponseWriter, r *http.Request, gw http.Handler) {
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, r.Clone(r.Context()))
	if rec.Code == http.StatusOK || rec.Code == http.StatusNotModified {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	src, err := os.ReadFile(filepath.Join("..", "clientjs", "client.js"))
	if err != nil {
		http.Error(w, "no client.js", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(src)
}

// startBrowser starts the package's one Chromium and returns a func that
// stops it. On failure it records the reason in env.browserErr.
func startBrowser() (stop func()) {
	ctx, stop, err := launchBrowser()
	if err != nil {
		env.browserErr = err
		return stop
	}
	env.browser = ctx
	return stop
}

// launchBrowser starts a headless Chromium with a fresh user-data dir, the
// package's usual flags and the extra options (later options win), and
// returns a chromedp context that owns it and a func that stops it and
// removes the dir. stop is never nil, even with an error.
func launchBrowser(extra ...chromedp.ExecAllocatorOption) (ctx context.Context, stop func(), err error) {
	path, err := chromium.Path("")
	if err != nil {
		return nil, func() {}, err
	}
	dir, err := os.MkdirTemp("", "ferry-e2e-chromium-")
	if err != nil {
		return nil, func() {}, err
	}
	var out bytes.Buffer
	opts := chromium.Options(path, dir, &out)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	stop = func() {
		cancelBrowser()
		cancelAlloc()
		_ = os.RemoveAll(dir)
	}
	sctx, cancel := context.WithTimeout(browserCtx, 60*time.Second)
	defer cancel()
	// The first Do starts the browser; its context must not time out, so
	// run it on browserCtx and watch the deadline separately.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(browserCtx) }()
	select {
	case err = <-done:
	case <-sctx.Done():
		err = errors.New("browser start timed out")
	}
	if err != nil {
		return nil, stop, fmt.Errorf("starting %s: %w\n%s", path, err, out.String())
	}
	return browserCtx, stop, nil
}

// needBrowser skips the test when there is no browser, or fails it when
// CI=true.
func needBrowser(t *testing.T) {
	t.Helper()
	if env.browser != nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no browser: %v", env.browserErr)
	}
	t.Skipf("no browser: %v", env.browserErr)
}

// TestClientJSServed checks that the gateway itself serves /client.js (the
// pages fall back to the file on disk when it does not).
func TestClientJSServed(t *testing.T) {
	resp, err := http.Get(env.mainURL + "/client.js")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK || !strings.Contains(ct, "javascript") {
		t.Fatalf("GET /client.js: %s, Content-Type %q; want 200 and JavaScript", resp.Status, ct)
	}
}
