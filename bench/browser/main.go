// Command browser compares, in one headless Chromium page run, Ferry's
// client.js (Ferry.WebSocket over websocket, sse and longpoll), the native
// WebSocket, sockjs-client (websocket, eventsource, xhr-polling) and
// socket.io-client (websocket, polling): for each, N sequential echoes of a
// small text message and a burst of M messages the server streams
// ("down M SIZE" to each server's bench endpoint).
//
//	go run ./bench/browser                      # starts everything itself
//	go run ./bench/browser -ferry http://127.0.0.1:8080 \
//	    -sockjs http://127.0.0.1:9101 -socketio http://127.0.0.1:9102
//
// Without -ferry it serves an in-process gateway (echo and bench services);
// without -sockjs / -socketio it starts bench/peers' Node servers (which
// need `npm ci` in bench/peers). The page, its configuration and the
// peers' browser bundles (from bench/peers/node_modules) are served by this
// program on its own loopback port, so every server is cross-origin to the
// page alike. It prints a table and writes JSON with -out.
//
// -only picks cases; -cpuprofile FILE records the page's JavaScript CPU
// profile and prints its top functions; -clientjs FILE measures another
// client.js against the same gateway; -ferry-options JSON passes options
// to Ferry.WebSocket. Chromium's DevTools Network domain is off (see
// quietTarget): with it on, every WebSocket frame and EventSource message
// was also reported to this program, which halved the rates measured.
package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ferrygw/ferry/internal/chromium"
	"github.com/ferrygw/ferry/internal/peers"
	"github.com/ferrygw/ferry/server"
)

//go:embed page
var pageFS embed.FS

// testCase is one library and transport of the page run.
type testCase struct {
	Name      string `json:"name"`
	Lib       string `json:"lib"` // native, ferry, sockjs, socketio
	Transport string `json:"transport"`
	// Baseline names the case this one is compared with.
	Baseline string `json:"-"`
}

var cases = []testCase{
	{Name: "native websocket", Lib: "native", Transport: "websocket"},
	{Name: "ferry websocket", Lib: "ferry", Transport: "websocket", Baseline: "native websocket"},
	{Name: "ferry sse", Lib: "ferry", Transport: "sse", Baseline: "native websocket"},
	{Name: "ferry longpoll", Lib: "ferry", Transport: "longpoll", Baseline: "native websocket"},
	{Name: "sockjs websocket", Lib: "sockjs", Transport: "websocket", Baseline: "ferry websocket"},
	{Name: "sockjs eventsource", Lib: "sockjs", Transport: "eventsource", Baseline: "ferry sse"},
	{Name: "sockjs xhr-polling", Lib: "sockjs", Transport: "xhr-polling", Baseline: "ferry longpoll"},
	{Name: "socket.io websocket", Lib: "socketio", Transport: "websocket", Baseline: "ferry websocket"},
	{Name: "socket.io polling", Lib: "socketio", Transport: "polling", Baseline: "ferry longpoll"},
}

// result is what the page reports for one case.
type result struct {
	Name            string `json:"name"`
	Lib             string `json:"lib"`
	Transport       string `json:"transport"`
	ActualTransport string `json:"actual_transport,omitempty"`
	Echo            *struct {
		N      int     `json:"n"`
		Capped bool    `json:"capped"` // stopped by -echo-max before -echoes
		MS     float64 `json:"ms"`
		PerS   float64 `json:"per_s"`
		MeanMS float64 `json:"mean_ms"`
		P50MS  float64 `json:"p50_ms"`
		P90MS  float64 `json:"p90_ms"`
		P99MS  float64 `json:"p99_ms"`
		MaxMS  float64 `json:"max_ms"`
	} `json:"echo,omitempty"`
	Burst *struct {
		N        int     `json:"n"`
		MS       float64 `json:"ms"`
		FirstMS  float64 `json:"first_ms"`
		MsgsPerS float64 `json:"msgs_per_s"`
		MBPerS   float64 `json:"mb_per_s"`
	} `json:"burst,omitempty"`
	Error string `json:"error,omitempty"`
}

// pageState is window.__bench.
type pageState struct {
	Done    bool     `json:"done"`
	Current string   `json:"current"`
	Results []result `json:"results"`
	Error   string   `json:"error"`
}

type options struct {
	ferry, sockjs, socketio string
	peers                   string
	chromium                string
	echoes, warmup, burst   int
	size                    int
	echoMax                 time.Duration
	caseTimeout, timeout    time.Duration
	only                    string
	out                     string
	cpuprofile              string
	sampleUS                int
	ferryOptions            string
	clientJS                string
}

func main() {
	var o options
	flag.StringVar(&o.ferry, "ferry", "", "Ferry gateway base URL with /bench and /client.js (default: an in-process gateway)")
	flag.StringVar(&o.sockjs, "sockjs", "", "SockJS peer base URL (default: start bench/peers/sockjs-server.js)")
	flag.StringVar(&o.socketio, "socketio", "", "Socket.IO peer base URL (default: start bench/peers/socketio-server.js)")
	flag.StringVar(&o.peers, "peers", "bench/peers", "directory of the peer servers and their node_modules")
	flag.StringVar(&o.chromium, "chromium", "", "Chromium binary (default $FERRY_CHROMIUM, /usr/bin/chromium, or chromium on PATH)")
	flag.IntVar(&o.echoes, "echoes", 10000, "sequential echoes per case")
	flag.DurationVar(&o.echoMax, "echo-max", time.Minute, "stop a case's echoes after this long (the count reached is reported)")
	flag.IntVar(&o.warmup, "warmup", 200, "echoes before measuring, per case")
	flag.IntVar(&o.burst, "burst", 50000, "messages of the downstream burst per case")
	flag.IntVar(&o.size, "size", 64, "message bytes")
	flag.DurationVar(&o.caseTimeout, "case-timeout", 3*time.Minute, "limit of each measurement of a case")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "limit of the whole run")
	flag.StringVar(&o.only, "only", "", "comma-separated case names or libraries to run (default all)")
	flag.StringVar(&o.out, "out", "", "also write the JSON results to this file")
	flag.StringVar(&o.clientJS, "clientjs", "", "serve this client.js from the page's own server instead of loading the gateway's")
	flag.StringVar(&o.ferryOptions, "ferry-options", "{}", "JSON options merged into every Ferry.WebSocket's (for example {\"eventSource\":false})")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "record the page's JavaScript CPU profile (DevTools .cpuprofile JSON) to this file and print its top functions")
	flag.IntVar(&o.sampleUS, "profile-interval", 100, "CPU profile sampling interval, microseconds")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	// SIGINT and SIGTERM (bench/run.sh's timeout) end the run through ctx,
	// so that Chromium and the servers started here are stopped too.
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx, cancel := context.WithTimeout(sigCtx, o.timeout)
	defer cancel()
	chromiumBin, err := chromium.Path(o.chromium)
	if err != nil {
		return err
	}
	selected := selectCases(o.only)
	if len(selected) == 0 {
		return fmt.Errorf("-only %q matches no case", o.only)
	}
	modules := filepath.Join(o.peers, "node_modules")
	if _, err := os.Stat(modules); err != nil {
		return fmt.Errorf("%s missing: run `npm ci` in %s", modules, o.peers)
	}
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	if o.ferry == "" {
		u, stop, err := startFerry()
		if err != nil {
			return err
		}
		stops = append(stops, stop)
		o.ferry = u
	}
	for _, p := range []struct {
		url    *string
		script string
	}{{&o.sockjs, "sockjs-server.js"}, {&o.socketio, "socketio-server.js"}} {
		if *p.url != "" {
			continue
		}
		u, stop, err := peers.StartServer(ctx, o.peers, p.script)
		if err != nil {
			return err
		}
		stops = append(stops, stop)
		*p.url = u
	}
	pageURL, stop, err := servePage(o, modules, selected)
	if err != nil {
		return err
	}
	stops = append(stops, stop)

	fmt.Fprintf(os.Stderr, "browser: ferry %s, sockjs %s, socket.io %s; page %s\n", o.ferry, o.sockjs, o.socketio, pageURL)
	st, err := runPage(ctx, chromiumBin, pageURL, o)
	if err != nil {
		return err
	}
	if st.Error != "" {
		return fmt.Errorf("page: %s", st.Error)
	}
	printTable(os.Stdout, o, st.Results)
	if o.out != "" {
		doc := map[string]any{
			"time":    time.Now().UTC().Format(time.RFC3339),
			"echoes":  o.echoes,
			"warmup":  o.warmup,
			"burst":   o.burst,
			"size":    o.size,
			"servers": map[string]string{"ferry": o.ferry, "sockjs": o.sockjs, "socketio": o.socketio},
			"browser": chromiumBin,
			"results": st.Results,
		}
		b, _ := json.MarshalIndent(doc, "", "  ")
		if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	for _, r := range st.Results {
		if r.Error != "" {
			return errors.New("some cases failed")
		}
	}
	return nil
}

func selectCases(only string) []testCase {
	if only == "" {
		return cases
	}
	var out []testCase
	for _, c := range cases {
		for _, w := range strings.Split(only, ",") {
			if w = strings.TrimSpace(w); w == c.Name || w == c.Lib {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// startFerry serves an in-process gateway with the echo and bench
// services, open to any page origin.
func startFerry() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	g := server.NewGateway([]string{"*"}, nil)
	g.Handle("/echo", server.ServiceConfig{}, server.Echo)
	g.Handle("/bench", server.ServiceConfig{}, server.Bench)
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// servePage serves the page, its configuration and the peers' bundles.
func servePage(o options, modules string, selected []testCase) (string, func(), error) {
	sub, err := fs.Sub(pageFS, "page")
	if err != nil {
		return "", nil, err
	}
	var ferryOptions map[string]any
	if err := json.Unmarshal([]byte(o.ferryOptions), &ferryOptions); err != nil {
		return "", nil, fmt.Errorf("-ferry-options: %w", err)
	}
	cfg, err := json.Marshal(map[string]any{
		"ferry": o.ferry, "sockjs": o.sockjs, "socketio": o.socketio,
		"echoes": o.echoes, "warmup": o.warmup, "burst": o.burst, "size": o.size,
		"echoMaxMs": o.echoMax.Milliseconds(), "caseTimeoutMs": o.caseTimeout.Milliseconds(), "cases": selected,
		"hold": o.cpuprofile != "", "ferryOptions": ferryOptions, "clientjs": o.clientJS != "",
	})
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(sub))
	mux.HandleFunc("/config.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, "window.BENCH = %s;\n", cfg)
	})
	files := map[string]string{
		"/sockjs.min.js":    filepath.Join(modules, "sockjs-client/dist/sockjs.min.js"),
		"/socket.io.min.js": filepath.Join(modules, "socket.io-client/dist/socket.io.min.js"),
	}
	if o.clientJS != "" {
		files["/client.js"] = o.clientJS
	}
	for path, file := range files {
		if _, err := os.Stat(file); err != nil {
			return "", nil, err
		}
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, file)
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/", func() { _ = srv.Close() }, nil
}

// runPage opens the page in a fresh headless Chromium and waits for its
// results, printing each case as it completes.
func runPage(ctx context.Context, chromiumBin, pageURL string, o options) (*pageState, error) {
	dir, err := os.MkdirTemp("", "ferry-bench-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var out bytes.Buffer
	opts := chromium.Options(chromiumBin, dir, &out)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := quietTarget(bctx); err != nil {
		return nil, fmt.Errorf("chromium: %w\n%s", err, out.String())
	}
	if _, err := chromedp.Run(bctx, chromedp.Navigate(pageURL)); err != nil {
		return nil, fmt.Errorf("chromium: %w\n%s", err, out.String())
	}
	if o.cpuprofile != "" {
		// The page holds its run until window.__go, so that the profile
		// covers it from the start.
		if err := startProfile(bctx, o.sampleUS); err != nil {
			return nil, err
		}
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.__go = true`)); err != nil {
			return nil, err
		}
	}
	seen := 0
	for {
		st, err := chromedp.Run(bctx, chromedp.Evaluate[pageState](`window.__bench || {}`))
		if err != nil {
			return nil, fmt.Errorf("reading the page's state: %w", err)
		}
		for ; seen < len(st.Results); seen++ {
			r := st.Results[seen]
			switch {
			case r.Error != "":
				fmt.Fprintf(os.Stderr, "browser: %-20s error: %s\n", r.Name, r.Error)
			case r.Echo != nil && r.Burst != nil:
				fmt.Fprintf(os.Stderr, "browser: %-20s echo p50 %.3f ms, burst %.0f msg/s\n", r.Name, r.Echo.P50MS, r.Burst.MsgsPerS)
			}
		}
		if st.Done {
			if o.cpuprofile != "" {
				if err := stopProfile(bctx, o.cpuprofile); err != nil {
					return nil, err
				}
			}
			return &st, nil
		}
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return nil, fmt.Errorf("page run: %w (at %q)", ctx.Err(), st.Current)
		}
	}
}

func printTable(w io.Writer, o options, results []result) {
	byName := map[string]result{}
	for _, r := range results {
		byName[r.Name] = r
	}
	baseline := map[string]string{}
	for _, c := range cases {
		baseline[c.Name] = c.Baseline
	}
	fmt.Fprintf(w, "\nBrowser (headless Chromium), one page: %d sequential echoes of %d B (or as many as fit in %v; n shows the count), then a burst of %d x %d B down.\n",
		o.echoes, o.size, o.echoMax, o.burst, o.size)
	fmt.Fprintf(w, "Ratios are against the baseline named: echo mean time (lower is better for the case) and burst rate (higher is better).\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tcarrier\techo n\tp50 ms\tp99 ms\tmean ms\techo/s\tburst msg/s\tburst MB/s\tbaseline\techo mean x\tburst rate x\t")
	for _, r := range results {
		if r.Error != "" || r.Echo == nil || r.Burst == nil {
			fmt.Fprintf(tw, "%s\t%s\tERROR: %s\t\t\t\t\t\t\t\t\t\t\n", r.Name, r.ActualTransport, r.Error)
			continue
		}
		echoX, burstX := "", ""
		b, ok := byName[baseline[r.Name]]
		if ok && b.Echo != nil && b.Burst != nil {
			echoX = fmt.Sprintf("%.2f", r.Echo.MeanMS/b.Echo.MeanMS)
			burstX = fmt.Sprintf("%.2f", r.Burst.MsgsPerS/b.Burst.MsgsPerS)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.0f\t%.0f\t%.2f\t%s\t%s\t%s\t\n",
			r.Name, r.ActualTransport, r.Echo.N, r.Echo.P50MS, r.Echo.P99MS, r.Echo.MeanMS, r.Echo.PerS,
			r.Burst.MsgsPerS, r.Burst.MBPerS, baseline[r.Name], echoX, burstX)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nTimes come from performance.now(), which Chromium coarsens to 0.1 ms on a page that is not cross-origin isolated; mean = total / count is exact.")
}
