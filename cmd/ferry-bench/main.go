// Command ferry-bench drives a running Ferry server over loopback with
// many sessions on one transport and reports latency, throughput or
// memory per session, as a table or JSON. Run it without arguments, or
// with -h, for its usage; the logic is in internal/bench.
//
//	ferry-bench echo -transport sse -n 100 -duration 10s -json
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ferrygw/ferry/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, bench.Usage)
		fmt.Fprintln(os.Stderr, "  (ferry-bench -h lists the flags)")
		os.Exit(2)
	}
	if err := bench.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ferry-bench:", err)
		os.Exit(1)
	}
}
