package server

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/ferrygw/ferry/emulation"
)

// Main runs the ferry command with args (without the program name) until
// ctx ends, logging to logw. It serves the echo service at /echo.
func Main(ctx context.Context, args []string, logw io.Writer) error {
	fs := flag.NewFlagSet("ferry", flag.ContinueOnError)
	fs.SetOutput(logw)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on")
	origins := fs.String("origins", "", "comma-separated origins allowed besides the page's own host (\"*\" for any)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	grace := fs.Duration("grace", 5*time.Second, "how long shutdown waits for sessions to close")
	heartbeat := fs.Duration("heartbeat", 0, "idle interval before a heartbeat (default 25s)")
	resume := fs.Duration("resume-timeout", 0, "how long a session waits for its client to come back (default 30s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: lvl}))
	g := NewGateway(splitList(*origins), logger)
	g.Handle("/echo", ServiceConfig{
		Protocols: []string{"*"},
		Emulation: emulation.Config{Heartbeat: *heartbeat, ResumeTimeout: *resume},
	}, Echo)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	logger.Info("ferry serving", "addr", "http://"+ln.Addr().String(), "echo", "/echo")
	return g.Serve(ctx, ln, *grace)
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
