package peers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// StartServer runs one of bench/peers' Node servers, `node script 0` in
// dir, with env added to this process's environment. The script listens
// on a free loopback port and prints "listening ADDR" first; StartServer
// waits for that line (up to 15 s, or until ctx ends) and returns
// http://ADDR and a func that kills the server. The server's stderr goes
// to this process's.
func StartServer(ctx context.Context, dir, script string, env ...string) (url string, stop func(), err error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", nil, fmt.Errorf("peers: node not found; it runs %s", script)
	}
	cmd := exec.Command("node", script, "0")
	cmd.Dir = dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		addr, _, _ := strings.Cut(strings.TrimPrefix(l, "listening "), " ")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			stop()
			return "", nil, fmt.Errorf("peers: %s: unexpected first line %q", script, l)
		}
		return "http://" + addr, stop, nil
	case <-time.After(15 * time.Second):
	case <-ctx.Done():
	}
	stop()
	return "", nil, fmt.Errorf("peers: %s: not listening after 15 s", script)
}
