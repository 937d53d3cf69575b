package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Modes of a run.
const (
	ModeEcho      = "echo"
	ModeDown      = "down"
	ModeUp        = "up"
	ModeBroadcast = "broadcast"
	ModeHold      = "hold"
)

// Modes lists every mode, in the order the usage text gives them.
var Modes = []string{ModeEcho, ModeDown, ModeUp, ModeBroadcast, ModeHold}

// Hard caps: flags beyond them are refused.
const (
	MaxSessions        = 100000
	MaxProcs           = 64
	MaxSize            = 16 << 20
	MaxInflight        = 1024
	MaxRate            = 1e6
	MaxDurationCap     = time.Hour
	MaxDialConcurrency = 4096
)

// ferryTransports are the transports of the ferry target; "plain" is an
// alias of "native".
var ferryTransports = []string{"native", "websocket", "sse", "longpoll"}

// Config describes one run. ParseArgs fills it from the command line and
// Validate checks it; the zero value is not valid.
type Config struct {
	Mode      string  `json:"mode"`
	Target    string  `json:"target"`    // registered dialer; default "ferry"
	URL       string  `json:"url"`       // service URL
	Transport string  `json:"transport"` // native, websocket, sse, longpoll for ferry
	Sessions  int     `json:"sessions"`
	Size      int     `json:"size"`     // message bytes
	Inflight  int     `json:"inflight"` // echo: outstanding round trips per session
	Rate      float64 `json:"rate"`     // broadcast: messages per second, 0 for as fast as possible
	Procs     int     `json:"procs"`    // client processes; 0: as many as descriptors require

	Warmup      time.Duration `json:"warmup"`       // excluded from the measurements
	Duration    time.Duration `json:"duration"`     // measured period
	MaxDuration time.Duration `json:"max_duration"` // refuse Warmup+Duration beyond
	DialTimeout time.Duration `json:"dial_timeout"` // for opening all the sessions
	Settle      time.Duration `json:"settle"`       // hold: wait before reading memory

	DialConcurrency int  `json:"dial_concurrency"` // sessions being opened at once, per process
	ShareHTTP       bool `json:"share_http"`       // ferry sse/longpoll: one HTTP connection pool per process

	Publish        string `json:"publish,omitempty"` // broadcast: POST URL
	Secret         string `json:"-"`                 // broadcast: bearer token for Publish
	UDP            string `json:"udp,omitempty"`     // broadcast: datagram feed address
	TextTimestamps bool   `json:"text_timestamps"`   // broadcast: timestamp as 20 decimal digits

	ServerPID  int    `json:"server_pid,omitempty"` // read /proc/PID for RSS and CPU
	MetricsURL string `json:"metrics_url,omitempty"`
	PprofURL   string `json:"pprof_url,omitempty"` // base of net/http/pprof, to force a GC before reading memory

	AllowRemote bool   `json:"allow_remote"`
	JSON        bool   `json:"-"` // print JSON instead of the table
	Out         string `json:"-"` // also write JSON to this file
	Quiet       bool   `json:"-"` // no progress lines on stderr
	CPUProfile  string `json:"-"` // write this process's CPU profile here

	// WorkerCommand is the command line that starts a worker process
	// (which must call WorkerMain); nil means this executable with the
	// argument "worker". WorkerEnv is added to its environment.
	WorkerCommand []string `json:"-"`
	WorkerEnv     []string `json:"-"`
}

// defaultPath is the service path each mode uses when -url is not given.
var defaultPath = map[string]string{
	ModeEcho: "/echo", ModeDown: "/bench", ModeUp: "/bench", ModeBroadcast: "/feed", ModeHold: "/echo",
}

// Usage is the command's help text.
const Usage = `usage: ferry-bench MODE [flags]

Drives a running Ferry server over loopback with N sessions and reports a
table, or JSON with -json / -out FILE. MODE is one of:

  echo       round trips of -size bytes (closed loop, -inflight per session)
  down       the server streams to every session (needs a bench service)
  up         every session sends as fast as flow control allows (bench service)
  broadcast  subscribe to a broadcast service; publish with -publish URL -secret S
             or -udp ADDR at -rate messages/s (0: as fast as possible)
  hold       keep sessions idle and read the server's memory per session

Examples:
  ferry-bench echo -transport sse -n 100 -duration 10s
  ferry-bench down -url http://127.0.0.1:8080/bench -transport longpoll
  ferry-bench broadcast -url http://127.0.0.1:8080/feed -publish http://127.0.0.1:8080/publish/feed -secret s -n 1000 -rate 100
  ferry-bench hold -n 10000 -transport websocket -duration 20s -server-pid $(pgrep -x ferry)

Flags:
`

// ParseArgs parses the command line (without the program name): the mode
// first, or -mode anywhere, then flags. It applies defaults but does not
// validate; call Validate.
func ParseArgs(args []string, stderr io.Writer) (Config, error) {
	c := Config{}
	mode := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		mode, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("ferry-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, Usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Mode, "mode", mode, "echo, down, up, broadcast or hold (or give it first)")
	fs.StringVar(&c.Target, "target", "ferry", "server kind: "+strings.Join(TargetNames(), ", "))
	fs.StringVar(&c.URL, "url", "", "service URL (default http://127.0.0.1:8080 + /echo, /bench or /feed by mode)")
	fs.StringVar(&c.Transport, "transport", "websocket", "native (plain RFC 6455), websocket (Ferry's resumable), sse or longpoll")
	fs.IntVar(&c.Sessions, "n", 1, fmt.Sprintf("sessions (at most %d)", MaxSessions))
	fs.IntVar(&c.Size, "size", 64, "message bytes")
	fs.IntVar(&c.Inflight, "inflight", 1, "echo: round trips outstanding per session")
	fs.Float64Var(&c.Rate, "rate", -1, "broadcast: messages per second, 0 for as fast as possible (default 100)")
	fs.IntVar(&c.Procs, "procs", 0, "client processes (default: as many as the open-file limit requires)")
	fs.DurationVar(&c.Warmup, "warmup", time.Second, "period before measuring")
	fs.DurationVar(&c.Duration, "duration", 5*time.Second, "measured period (hold: how long sessions stay idle)")
	fs.DurationVar(&c.MaxDuration, "max-duration", 30*time.Second, "refuse -warmup + -duration beyond this")
	fs.DurationVar(&c.DialTimeout, "dial-timeout", 2*time.Minute, "time allowed to open every session")
	fs.DurationVar(&c.Settle, "settle", 0, "hold: wait after opening before reading memory (default min(5s, duration/2))")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", 64, "sessions opened at once per process")
	fs.BoolVar(&c.ShareHTTP, "share-http", false, "ferry sse/longpoll: sessions of a process share one HTTP connection pool (fewer descriptors)")
	fs.StringVar(&c.Publish, "publish", "", "broadcast: URL to POST each message to")
	fs.StringVar(&c.Secret, "secret", "", "broadcast: bearer token for -publish")
	fs.StringVar(&c.UDP, "udp", "", "broadcast: host:port to send each message to as a datagram")
	fs.BoolVar(&c.TextTimestamps, "text-timestamps", false, "broadcast: send the timestamp as 20 decimal digits in a text message (default for targets other than ferry)")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "server process id: read its RSS and CPU time from /proc")
	fs.StringVar(&c.MetricsURL, "metrics", "", "server's Prometheus metrics URL (default: the -url origin + /metrics; \"none\" to skip)")
	fs.StringVar(&c.PprofURL, "pprof", "", "server's pprof base URL (http://127.0.0.1:6060): forces a GC before memory readings")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow targets that are not loopback addresses")
	fs.BoolVar(&c.JSON, "json", false, "print JSON on stdout (the table goes to stderr)")
	fs.StringVar(&c.Out, "out", "", "also write the JSON result to this file")
	fs.BoolVar(&c.Quiet, "q", false, "no progress lines on stderr")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the load process's CPU profile to this file (sessions in worker processes are not in it)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags go after the mode)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.Transport == "plain" {
		c.Transport = "native"
	}
	if c.URL == "" && defaultPath[c.Mode] != "" {
		c.URL = "http://127.0.0.1:8080" + defaultPath[c.Mode]
	}
	if !set["rate"] && c.Mode == ModeBroadcast {
		c.Rate = 100
	}
	if !set["rate"] && c.Mode != ModeBroadcast {
		c.Rate = 0
	}
	if !set["text-timestamps"] && c.Target != "ferry" {
		c.TextTimestamps = true
	}
	if !set["warmup"] && c.Mode == ModeHold {
		c.Warmup = 0
	}
	if c.Mode == ModeHold && c.Settle == 0 {
		c.Settle = min(5*time.Second, c.Duration/2)
	}
	if c.MetricsURL == "" && c.Mode == ModeHold {
		if u, err := url.Parse(c.URL); err == nil && u.Host != "" {
			scheme := strings.Replace(strings.Replace(u.Scheme, "wss", "https", 1), "ws", "http", 1)
			c.MetricsURL = scheme + "://" + u.Host + "/metrics"
		}
	}
	if c.MetricsURL == "none" {
		c.MetricsURL = ""
	}
	return c, nil
}

// Validate checks c against the hard caps and refuses non-loopback targets
// unless AllowRemote is set.
func (c *Config) Validate() error {
	if !slices.Contains(Modes, c.Mode) {
		if c.Mode == "" {
			return errors.New("no mode: give one of " + strings.Join(Modes, ", "))
		}
		return fmt.Errorf("unknown mode %q: want one of %s", c.Mode, strings.Join(Modes, ", "))
	}
	if lookupTarget(c.Target) == nil {
		return fmt.Errorf("unknown -target %q: want one of %s", c.Target, strings.Join(TargetNames(), ", "))
	}
	if c.Target == "ferry" && !slices.Contains(ferryTransports, c.Transport) {
		return fmt.Errorf("-transport %q: want one of %s", c.Transport, strings.Join(ferryTransports, ", "))
	}
	if c.Transport == "" {
		return errors.New("-transport is empty")
	}
	if err := checkURL("-url", c.URL, "http", "https", "ws", "wss"); err != nil {
		return err
	}
	switch {
	case c.Sessions < 1 || c.Sessions > MaxSessions:
		return fmt.Errorf("-n %d: want 1 to %d", c.Sessions, MaxSessions)
	case c.Size < 0 || c.Size > MaxSize:
		return fmt.Errorf("-size %d: want 0 to %d", c.Size, MaxSize)
	case c.Inflight < 1 || c.Inflight > MaxInflight:
		return fmt.Errorf("-inflight %d: want 1 to %d", c.Inflight, MaxInflight)
	case c.Inflight > 1 && c.Mode != ModeEcho:
		return errors.New("-inflight applies to echo only")
	case c.Rate < 0 || c.Rate > MaxRate:
		return fmt.Errorf("-rate %g: want 0 to %g", c.Rate, float64(MaxRate))
	case c.Rate > 0 && c.Mode != ModeBroadcast:
		return errors.New("-rate applies to broadcast only")
	case c.Procs < 0 || c.Procs > MaxProcs:
		return fmt.Errorf("-procs %d: want 0 to %d", c.Procs, MaxProcs)
	case c.Duration <= 0:
		return errors.New("-duration must be positive")
	case c.Warmup < 0:
		return errors.New("-warmup must not be negative")
	case c.MaxDuration <= 0 || c.MaxDuration > MaxDurationCap:
		return fmt.Errorf("-max-duration %v: want up to %v", c.MaxDuration, MaxDurationCap)
	case c.Warmup+c.Duration > c.MaxDuration:
		return fmt.Errorf("-warmup + -duration = %v is over -max-duration %v", c.Warmup+c.Duration, c.MaxDuration)
	case c.DialTimeout <= 0 || c.DialTimeout > MaxDurationCap:
		return fmt.Errorf("-dial-timeout %v: want up to %v", c.DialTimeout, MaxDurationCap)
	case c.DialConcurrency < 1 || c.DialConcurrency > MaxDialConcurrency:
		return fmt.Errorf("-dial-concurrency %d: want 1 to %d", c.DialConcurrency, MaxDialConcurrency)
	case c.ServerPID < 0:
		return errors.New("-server-pid must not be negative")
	case c.Settle < 0:
		return errors.New("-settle must not be negative")
	}
	if c.Mode == ModeHold && c.Settle >= c.Duration {
		return fmt.Errorf("-settle %v must be shorter than -duration %v", c.Settle, c.Duration)
	}
	if c.Mode == ModeBroadcast {
		if (c.Publish == "") == (c.UDP == "") {
			return errors.New("broadcast needs exactly one of -publish URL and -udp ADDR")
		}
		if c.Size <= timestampBytes(c.TextTimestamps) {
			return fmt.Errorf("-size %d: broadcast messages carry a %d-byte timestamp and a mark", c.Size, timestampBytes(c.TextTimestamps))
		}
		if c.Publish != "" {
			if err := checkURL("-publish", c.Publish, "http", "https"); err != nil {
				return err
			}
		}
		if c.UDP != "" {
			if err := checkHost("-udp", c.UDP); err != nil {
				return err
			}
		}
	} else if c.Publish != "" || c.UDP != "" || c.Secret != "" {
		return errors.New("-publish, -secret and -udp apply to broadcast only")
	}
	if c.Secret != "" && c.Publish == "" {
		return errors.New("-secret goes with -publish")
	}
	for _, u := range []struct{ flag, v string }{{"-metrics", c.MetricsURL}, {"-pprof", c.PprofURL}} {
		if u.v == "" {
			continue
		}
		if err := checkURL(u.flag, u.v, "http", "https"); err != nil {
			return err
		}
	}
	if c.AllowRemote {
		return nil
	}
	for _, a := range []struct{ flag, v string }{{"-url", c.URL}, {"-publish", c.Publish}, {"-udp", c.UDP}, {"-metrics", c.MetricsURL}, {"-pprof", c.PprofURL}} {
		if a.v == "" {
			continue
		}
		if err := checkLoopback(a.flag, a.v); err != nil {
			return err
		}
	}
	return nil
}

// checkURL checks that raw is an absolute URL with one of schemes.
func checkURL(flag, raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if !slices.Contains(schemes, u.Scheme) || u.Host == "" {
		return fmt.Errorf("%s %q: want a %s URL", flag, raw, strings.Join(schemes, "/"))
	}
	return nil
}

// checkHost checks a host:port address.
func checkHost(flag, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s %q: want host:port", flag, addr)
	}
	return nil
}

// checkLoopback refuses an address (URL or host:port) whose host is not,
// or does not resolve only to, loopback addresses.
func checkLoopback(flag, v string) error {
	host := v
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		host = u.Hostname()
	} else if h, _, err := net.SplitHostPort(v); err == nil {
		host = h
	}
	refuse := fmt.Errorf("%s %s is not a loopback address: refusing without -allow-remote", flag, v)
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return refuse
		}
		return nil
	}
	if host == "" {
		return refuse
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("%s: cannot resolve %s: %v", flag, host, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return refuse
		}
	}
	return nil
}
