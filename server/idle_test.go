package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/server"
	"github.com/ferrygw/ferry/wire"
	"github.com/gorilla/websocket"
)

// holdEnv makes the test binary a holder of idle sessions (see holdIdle).
const holdEnv = "FERRY_HOLD_IDLE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(holdEnv); spec != "" {
		if err := holdIdle(spec); err != nil {
			fmt.Fprintln(os.Stderr, "holder:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkIdleSession opens 10,000 idle sessions per transport from a
// child process and reports the server's Go heap plus stacks per session
// (the echo handler's goroutine included). Run with -benchtime=1x.
func BenchmarkIdleSession(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("FERRY_IDLE_SESSIONS")); err == nil {
		n = v
	}
	for _, t := range []string{"native", "websocket", "sse", "longpoll"} {
		b.Run(t, func(b *testing.B) {
			g := server.NewGateway(nil, nil)
			g.Handle("/echo", server.ServiceConfig{Emulation: emulation.Config{PollHold: time.Hour, Heartbeat: time.Hour, ResumeTimeout: time.Hour}}, server.Echo)
			ts := newServer(g)
			defer ts.Close()
			defer ts.CloseClientConnections()
			before := memInUse()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%d", holdEnv, t, ts.Listener.Addr(), n))
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || strings.TrimSpace(line) != "ready" {
				b.Fatalf("holder: %q %v", line, err)
			}
			settle() // every held request is parked in its handler
			per := float64(memInUse()-before) / float64(n)
			if f := os.Getenv("FERRY_IDLE_PROFILE"); f != "" {
				w, _ := os.Create(f + "." + t)
				_ = pprof.Lookup("heap").WriteTo(w, 0)
				w.Close()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.Logf("heap %d stack %d goroutines %d", ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine())
			}
			for b.Loop() {
			}
			b.ReportMetric(per, "B/session")
			stdin.Close()
			_ = cmd.Wait()
		})
	}
}

// settle waits until the goroutine count has been steady for a second.
func settle() {
	last := -1
	for steady := 0; steady < 5; {
		time.Sleep(200 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n == last {
			steady++
		} else {
			steady = 0
		}
		last = n
	}
}

func memInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}

// holdIdle opens n idle sessions ("transport,addr,n"), prints "ready",
// and keeps them until stdin closes. It holds raw sockets so that the
// holder uses one descriptor per session.
func holdIdle(spec string) error {
	parts := strings.Split(spec, ",")
	t, addr := parts[0], parts[1]
	n, _ := strconv.Atoi(parts[2])
	var keep []any
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for range n {
		c, err := openIdle(t, addr, hc)
		if err != nil {
			return err
		}
		keep = append(keep, c)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	runtime.KeepAlive(keep)
	return nil
}

func openIdle(t, addr string, hc *http.Client) (any, error) {
	switch t {
	case "native", "websocket":
		path := "/echo"
		if t == "websocket" {
			path = "/echo/.ferry/ws"
		}
		c, _, err := websocket.DefaultDialer.DialContext(context.Background(), "ws://"+addr+path, nil)
		return c, err
	}
	resp, err := hc.Post("http://"+addr+"/echo/.ferry/open?transport="+t, "text/plain", nil)
	if err != nil {
		return nil, err
	}
	var info wire.OpenInfo
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	op := "sse"
	if t == "longpoll" {
		op = "poll"
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err = fmt.Fprintf(c, "GET /echo/.ferry/%s/%s?last=0 HTTP/1.1\r\nHost: %s\r\n\r\n", info.Session, op, addr); err != nil {
		return nil, err
	}
	if t == "sse" { // the stream is attached once its head arrives
		if _, err := c.Read(make([]byte, 64)); err != nil {
			return nil, err
		}
	}
	return c, nil
}
