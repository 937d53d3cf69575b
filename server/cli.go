package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"
)

// Main runs the ferry command with args (without the program name) until
// ctx ends, logging to logw. Without --config it serves the echo service
// at /echo and the demo page; flags given explicitly override the file.
// --help and --version print to logw and return nil; see Command for the
// command as cmd/ferry runs it.
func Main(ctx context.Context, args []string, logw io.Writer) error {
	return run(ctx, args, logw, logw)
}

// Command runs the ferry command as cmd/ferry does, and returns its exit
// status. --help prints the usage and --version the version (see
// version) to stdout, and both exit 0; anything else goes to stderr: logs,
// and an error with status 2 for a bad flag (followed by the usage), a bad
// configuration or a failure to serve.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if err := run(ctx, args, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "ferry:", err)
		return 2
	}
	return 0
}

const usageHead = `Usage: ferry [flags]

Ferry serves WebSocket services to every browser and network: a native
WebSocket where the network allows one, else a WebSocket emulated over
Server-Sent Events and POST, or long-polling. Without --config it serves
an echo service at /echo and a demo page at /, on 127.0.0.1:8080.

Flags:
`

// run is Main with help and version printed to out, and logs written to
// logw.
func run(ctx context.Context, args []string, out, logw io.Writer) error {
	fs := flag.NewFlagSet("ferry", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; the usage is printed below
	fs.Usage = func() {}
	file := fs.String("config", "", "YAML configuration file (see ferry.example.yaml)")
	check := fs.Bool("check-config", false, "validate the configuration and exit")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on")
	origins := fs.String("origins", "", "comma-separated origins allowed besides the page's own host (\"*\" for any)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	grace := fs.Duration("grace", 5*time.Second, "how long shutdown waits for sessions to close")
	heartbeat := fs.Duration("heartbeat", 0, "idle interval before a heartbeat (default 25s)")
	resume := fs.Duration("resume-timeout", 0, "how long a session waits for its client to come back (default 30s)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, out)
			return nil
		}
		printUsage(fs, logw)
		return err
	}
	if *showVersion {
		bi, _ := debug.ReadBuildInfo()
		fmt.Fprintln(out, "ferry", version(bi))
		return nil
	}
	cfg := DefaultConfig()
	if *file != "" {
		var err error
		if cfg, err = LoadConfig(*file); err != nil {
			return err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["listen"] || *file == "" {
		cfg.Listen = *listen
	}
	if set["origins"] {
		cfg.Origins = splitList(*origins)
	}
	if set["log-level"] || *file == "" {
		cfg.LogLevel = *level
	}
	if set["grace"] {
		cfg.Grace = *grace
	}
	for i := range cfg.Services {
		if set["heartbeat"] {
			cfg.Services[i].Heartbeat = *heartbeat
		}
		if set["resume-timeout"] {
			cfg.Services[i].ResumeTimeout = *resume
		}
	}
	if err := cfg.checkCredentials(); err != nil { // --origins may have changed the origins
		return err
	}
	if err := (new(slog.Level)).UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	if *check {
		fmt.Fprintf(logw, "ferry: configuration ok: %d services, listen %s\n", len(cfg.Services), cfg.Listen)
		return nil
	}
	return Run(ctx, cfg, logw)
}

// printUsage writes the usage and fs's flags to w.
func printUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, usageHead)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// version returns the main module's version from bi, or, for a build
// without one (from a checkout), "devel" followed by the VCS revision,
// when recorded, and "(modified)" if the tree had local changes.
func version(bi *debug.BuildInfo) string {
	if bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(len(s.Value), 12)]
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	v := strings.TrimSpace("devel " + rev)
	if modified {
		v += " (modified)"
	}
	return v
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
