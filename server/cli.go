package server

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Main runs the ferry command with args (without the program name) until
// ctx ends, logging to logw. Without --config it serves the echo service
// at /echo and the demo page; flags given explicitly override the file.
func Main(ctx context.Context, args []string, logw io.Writer) error {
	fs := flag.NewFlagSet("ferry", flag.ContinueOnError)
	fs.SetOutput(logw)
	file := fs.String("config", "", "YAML configuration file (see ferry.example.yaml)")
	check := fs.Bool("check-config", false, "validate the configuration and exit")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on")
	origins := fs.String("origins", "", "comma-separated origins allowed besides the page's own host (\"*\" for any)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	grace := fs.Duration("grace", 5*time.Second, "how long shutdown waits for sessions to close")
	heartbeat := fs.Duration("heartbeat", 0, "idle interval before a heartbeat (default 25s)")
	resume := fs.Duration("resume-timeout", 0, "how long a session waits for its client to come back (default 30s)")
	if err := fs.Parse(args); err != nil {
		return err
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
	if err := (new(slog.Level)).UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	if *check {
		fmt.Fprintf(logw, "ferry: configuration ok: %d services, listen %s\n", len(cfg.Services), cfg.Listen)
		return nil
	}
	return Run(ctx, cfg, logw)
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
