package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// Main runs the ferry-bench command with args (without the program name):
// a mode and its flags, or the hidden "worker" subcommand. The result
// goes to stdout as a table, or as JSON with -json (the table then goes to
// stderr); -out also writes the JSON to a file. It returns an error for
// bad flags, a failed run, or a run that counted errors.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "worker" {
		return WorkerMain(ctx, stdin, stdout)
	}
	c, err := ParseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if _, err := RaiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "ferry-bench: cannot raise the open-file limit:", err)
	}
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	progress := stderr
	if c.Quiet {
		progress = nil
	}
	res, runErr := Run(ctx, c, progress)
	if res == nil {
		return runErr
	}
	table, js := stdout, io.Writer(nil)
	if c.JSON {
		table, js = stderr, stdout
	}
	if err := res.WriteTable(table); err != nil {
		return err
	}
	if js != nil {
		if err := res.WriteJSON(js); err != nil {
			return err
		}
	}
	if c.Out != "" {
		f, err := os.Create(c.Out)
		if err != nil {
			return err
		}
		if err := res.WriteJSON(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if res.Errors > 0 {
		return fmt.Errorf("%d errors", res.Errors)
	}
	return nil
}
