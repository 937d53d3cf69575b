// Command ferry runs the Ferry gateway: by default an echo service at
// /echo and a demo page at / on 127.0.0.1:8080. See README.md, or run
// ferry --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ferrygw/ferry/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := server.Command(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
