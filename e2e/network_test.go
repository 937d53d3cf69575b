package e2e

// Real proxies for the browser tests: squid as an enterprise forward proxy
// with Debian's default rules, nginx as a buffering reverse proxy, and a
// Chromium whose traffic (loopback included) goes through a forward proxy.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/chromedp/chromedp"
)

// Where Debian puts the proxies; FERRY_SQUID and FERRY_NGINX override.
const (
	defaultSquid     = "/usr/sbin/squid"
	defaultNginx     = "/usr/sbin/nginx"
	debianSquidConf  = "/etc/squid/squid.conf"
	nginxConfigFile  = "testdata/nginx.conf.tmpl"
	proxyStartLimit  = 30 * time.Second // hang guard for a proxy's start
	proxyStopLimit   = 15 * time.Second // hang guard for a proxy's exit
	proxyPollSpacing = 50 * time.Millisecond
)

// squid is the package's squid, started once by squidAddr and stopped by
// stopNetwork.
var squid struct {
	once    sync.Once
	addr    string // 127.0.0.1:port
	dir     string // its temp dir: squid.conf, access.log, cache.log
	proc    *proc
	missing bool  // no squid binary: skip (fail with CI=true)
	err     error // why there is no squid
}

// proxied holds the package's proxied browsers, one per proxy address,
// started lazily by proxiedTab and stopped by stopNetwork.
var proxied struct {
	mu       sync.Mutex
	browsers map[string]*proxiedBrowser
}

// proxiedBrowser is a Chromium configured to use one HTTP proxy.
type proxiedBrowser struct {
	ctx  context.Context
	stop func()
	err  error
}

// stopNetwork stops the proxied browsers, then squid; TestMain's run
// calls it after the tests.
func stopNetwork() {
	proxied.mu.Lock()
	for addr, b := range proxied.browsers {
		b.stop()
		delete(proxied.browsers, addr)
	}
	proxied.mu.Unlock()
	if squid.proc != nil {
		if err := squid.proc.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping squid:", err)
		}
		squid.proc = nil
	}
	if squid.dir != "" {
		_ = os.RemoveAll(squid.dir)
	}
}

// toolPath returns the binary named by the environment variable envVar,
// else def when it exists, else name on PATH.
func toolPath(envVar, def, name string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return p, nil
	}
	if _, err := os.Stat(def); err == nil {
		return def, nil
	}
	return exec.LookPath(name)
}

// skipOrFail skips the test, or fails it when CI=true (CI installs every
// tool, so a missing one is a broken setup there).
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// proxyDir makes a temp dir that the proxies' unprivileged workers (squid
// drops to user proxy, nginx's workers run as nobody when started as root)
// can write to.
func proxyDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// proc is a proxy process the tests started, under orphanGuard, in its
// own process group.
type proc struct {
	name  string
	cmd   *exec.Cmd      // sh running orphanGuard
	out   *os.File       // the proxy's stdout and stderr
	guard io.WriteCloser // orphanGuard's stdin: closing it stops the proxy
	done  chan struct{}  // closed when the guard (and so the proxy) has exited
	err   error          // Wait's result, set before done is closed
}

// orphanGuard runs a proxy ("$0" "$@") and sends it SIGTERM when its own
// stdin, a pipe from the test binary, closes: when stop closes it, and
// also when the test binary dies without running its cleanups (a timeout
// panic), which would otherwise leave squid running (it drops to user
// proxy, and Linux then clears a parent-death signal). SIGTERM to the
// guard is passed on too. The guard exits when the proxy has, with its
// status.
const orphanGuard = `exec 3<&0 0</dev/null
"$0" "$@" & p=$!
trap 'kill -TERM $p 2>/dev/null' TERM
{ read _ <&3; kill -TERM $p 2>/dev/null; } & w=$!
s=0
while kill -0 $p 2>/dev/null; do wait $p; s=$?; done
kill $w 2>/dev/null
exit $s`

// startProc starts bin with args under orphanGuard, writing its output to
// dir/name.out.
func startProc(name, dir, bin string, args ...string) (*proc, error) {
	out, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", append([]string{"-c", orphanGuard, bin}, args...)...)
	cmd.Stdout = out
	cmd.Stderr = out
	guard, err := cmd.StdinPipe()
	if err != nil {
		out.Close()
		return nil, err
	}
	// Pdeathsig: a second line of defence; the guard stays root, so Linux
	// keeps it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, out: out, guard: guard, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitPort waits until addr accepts connections, or fails if the process
// exits first or the start takes longer than the hang guard; the error
// then quotes the given log files.
func (p *proc) waitPort(addr string, logs ...string) error {
	deadline := time.Now().Add(proxyStartLimit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before listening on %s (%v)%s", p.name, addr, p.err, quoteFiles(logs...))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s after %v%s", p.name, addr, proxyStartLimit, quoteFiles(logs...))
		}
		time.Sleep(proxyPollSpacing)
	}
}

// stop has the guard send the proxy SIGTERM and waits for both to exit;
// past the hang guard it kills the process group. It returns an error only
// when the processes had to be killed.
func (p *proc) stop() error {
	defer p.out.Close()
	_ = p.guard.Close()
	select {
	case <-p.done:
		return nil
	case <-time.After(proxyStopLimit):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s ignored SIGTERM for %v; killed", p.name, proxyStopLimit)
}

// quoteFiles returns the files' contents (their last 4 KiB), for error
// messages.
func quoteFiles(paths ...string) string {
	var b strings.Builder
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if len(data) > 4096 {
			data = data[len(data)-4096:]
		}
		fmt.Fprintf(&b, "\n--- %s ---\n%s", filepath.Base(path), data)
	}
	return b.String()
}

// squidAddr returns host:port of the package's squid (Debian default rules), started once per package run (sync.Once); it skips/fails like needBrowser when squid is missing (fail when CI=true).
func squidAddr(t *testing.T) string {
	t.Helper()
	squid.once.Do(startSquid)
	if squid.missing {
		skipOrFail(t, "no squid (apt-get install -y squid): %v", squid.err)
	}
	if squid.err != nil {
		t.Fatalf("squid: %v", squid.err)
	}
	return squid.addr
}

// startSquid starts the package's squid, recording the outcome in squid.
func startSquid() {
	bin, err := toolPath("FERRY_SQUID", defaultSquid, "squid")
	if err != nil {
		squid.missing, squid.err = true, err
		return
	}
	base, err := os.ReadFile(debianSquidConf)
	if err != nil {
		squid.missing, squid.err = true, fmt.Errorf("squid's default configuration: %w", err)
		return
	}
	dir, err := proxyDir("ferry-e2e-squid-")
	if err != nil {
		squid.err = err
		return
	}
	squid.dir = dir
	port, err := freePort()
	if err != nil {
		squid.err = err
		return
	}
	conf := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(conf, []byte(squidConfig(string(base), port, dir)), 0o644); err != nil {
		squid.err = err
		return
	}
	// -N: stay in the foreground, as one process; -f: our configuration.
	p, err := startProc("squid", dir, bin, "-N", "-f", conf)
	if err != nil {
		squid.err = err
		return
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := p.waitPort(addr, filepath.Join(dir, "squid.out"), filepath.Join(dir, "cache.log")); err != nil {
		_ = p.stop()
		squid.err = err
		return
	}
	squid.proc, squid.addr = p, addr
}

// squidConfig derives the test squid's configuration from Debian's
// squid.conf (base): its directives, comments and blank lines dropped,
// with every access rule kept as it is, in particular
//
//	http_access deny CONNECT !SSL_ports   (CONNECT only to port 443)
//	http_access allow localhost           (clients on this host may use it)
//
// What changes is where squid listens and writes, so that it runs beside
// the system's squid without touching /var:
//
//   - http_port becomes 127.0.0.1:port (not 3128 on every interface);
//   - pid_filename, access_log (stdio, written as requests complete) and
//     cache_log go to dir; coredump_dir is dir; cache_store_log none;
//   - cache_dir lines are dropped (Debian's default has none): memory
//     cache only, no disk cache to initialise with squid -z;
//   - shutdown_lifetime 0 seconds, so SIGTERM ends it at once;
//   - pinger_enable off (the ICMP helper needs setuid root and is not
//     used), visible_hostname set (squid refuses to start when it cannot
//     work out a fully qualified host name).
//
// Everything in this test runs on 127.0.0.1, so a rule that forbids
// loopback destinations would forbid every test request. Debian 12's squid
// 5.7 ships "http_access deny to_localhost" commented out, so nothing is
// removed there; should a squid.conf have the rule active, it is dropped
// (the one change to the access rules), and the CONNECT rule still
// refuses native WebSocket tunnels.
func squidConfig(base string, port int, dir string) string {
	replaced := map[string]bool{
		"http_port": true, "https_port": true, "pid_filename": true, "access_log": true,
		"cache_log": true, "cache_store_log": true, "coredump_dir": true, "cache_dir": true,
		"shutdown_lifetime": true, "pinger_enable": true, "visible_hostname": true,
	}
	var b strings.Builder
	b.WriteString("# Generated by Ferry's e2e tests from " + debianSquidConf + "; see squidConfig.\n")
	sc := bufio.NewScanner(strings.NewReader(base))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if replaced[fields[0]] {
			continue
		}
		if strings.Join(fields, " ") == "http_access deny to_localhost" {
			b.WriteString("# dropped: http_access deny to_localhost (every test server is on 127.0.0.1)\n")
			continue
		}
		b.WriteString(strings.Join(fields, " ") + "\n")
	}
	fmt.Fprintf(&b, `http_port 127.0.0.1:%d
pid_filename %[2]s/squid.pid
access_log stdio:%[2]s/access.log squid
cache_log %[2]s/cache.log
cache_store_log none
coredump_dir %[2]s
shutdown_lifetime 0 seconds
pinger_enable off
visible_hostname ferry-e2e-squid
`, port, dir)
	return b.String()
}

// squidAccessLog returns squid's access log so far. Squid writes a line
// when a transaction ends, so a request still open is not in it yet.
func squidAccessLog(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(squid.dir, "access.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reading squid's access log: %v", err)
	}
	return string(data)
}

// nginxParams fill testdata/nginx.conf.tmpl.
type nginxParams struct {
	Dir      string // prefix: pid, logs and temp paths
	Port     int    // listens on 127.0.0.1:Port
	Upstream string // http://127.0.0.1:P
}

// startNginx starts an nginx buffering reverse proxy (as described) in front of upstream ("http://127.0.0.1:P"), stopped at t.Cleanup; returns its base URL "http://127.0.0.1:N".
//
// The proxy (testdata/nginx.conf.tmpl) buffers responses (proxy_buffering
// on, and proxy_ignore_headers X-Accel-Buffering so the server cannot opt
// out), talks HTTP/1.0 to the upstream and forwards no Upgrade, and passes
// the browser's Host header so that the page's origin (nginx) and the
// gateway's host agree. Its access log is nginxAccessLog(base).
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin, err := toolPath("FERRY_NGINX", defaultNginx, "nginx")
	if err != nil {
		skipOrFail(t, "no nginx (apt-get install -y nginx): %v", err)
	}
	tmpl, err := template.ParseFiles(nginxConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := proxyDir("ferry-e2e-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	var conf bytes.Buffer
	if err := tmpl.Execute(&conf, nginxParams{Dir: dir, Port: port, Upstream: upstream}); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// -p: prefix for relative paths; -e: the error log before the
	// configuration is read (else /var/log/nginx/error.log).
	p, err := startProc("nginx", dir, bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"),
		"-g", "daemon off;")
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := p.waitPort(addr, filepath.Join(dir, "nginx.out"), filepath.Join(dir, "error.log")); err != nil {
		_ = p.stop()
		t.Fatal(err)
	}
	base := "http://" + addr
	nginxDirs.Store(base, dir)
	t.Cleanup(func() {
		nginxDirs.Delete(base)
		if err := p.stop(); err != nil {
			t.Error(err)
		}
	})
	return base
}

// nginxDirs maps a running nginx's base URL to its temp dir.
var nginxDirs sync.Map

// nginxAccessLog returns the access log of the nginx at base (from
// startNginx) so far; nginx writes a line when a request ends.
func nginxAccessLog(t *testing.T, base string) string {
	t.Helper()
	dir, ok := nginxDirs.Load(base)
	if !ok {
		t.Fatalf("no nginx at %s", base)
	}
	data, err := os.ReadFile(filepath.Join(dir.(string), "access.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reading nginx's access log: %v", err)
	}
	return string(data)
}

// proxiedTab opens a tab in a separate Chromium whose traffic, loopback included, goes through the HTTP proxy at proxyAddr (host:port); one browser per proxyAddr per package, started lazily and stopped at package end (TestMain) — add a hook in main_test.go's run() for that.
//
// Chromium sends every request through the proxy: plain HTTP as proxy
// requests, WebSocket (ws:// too) and https through CONNECT tunnels.
// "<-loopback>" removes Chromium's implicit bypass of localhost and
// 127.0.0.1.
func proxiedTab(t *testing.T, proxyAddr string, inits ...string) *tab {
	t.Helper()
	needBrowser(t)
	proxied.mu.Lock()
	b := proxied.browsers[proxyAddr]
	if b == nil {
		b = &proxiedBrowser{}
		b.ctx, b.stop, b.err = launchBrowser(
			chromedp.ProxyServer("http://"+proxyAddr),
			chromedp.Flag("proxy-bypass-list", "<-loopback>"),
		)
		if proxied.browsers == nil {
			proxied.browsers = make(map[string]*proxiedBrowser)
		}
		proxied.browsers[proxyAddr] = b
	}
	proxied.mu.Unlock()
	if b.err != nil {
		t.Fatalf("browser behind %s: %v", proxyAddr, b.err)
	}
	return newTabIn(t, b.ctx, inits...)
}
