package server_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrygw/ferry/server"
)

// vecDir holds the language-neutral conformance vectors.
var vecDir = filepath.Join("..", "docs", "conformance")

// vecTimeout is the default wait of a step: twice the Node runner's
// default, because here the server runs in the test binary, often with
// -race, while both runners play at once.
const vecTimeout = 10 * time.Second

// TestConformanceVectors plays the conformance vectors of docs/conformance
// against the default gateway (what the ferry command serves without a
// configuration file) twice: with the Node runner, docs/conformance/run.js,
// in a subprocess, and with this package's Go player. It also runs
// docs/conformance/check-rules.js, which ties every MUST sentence of
// docs/PROTOCOL.md to vectors. Vectors marked pending are reported, not
// failed; with -short, vectors marked slow (timers of 25 to 55 s) are
// skipped. Without node the Node parts are skipped, unless CI=true.
func TestConformanceVectors(t *testing.T) {
	base := startVecGateway(t)
	t.Run("rules", func(t *testing.T) {
		out, err := runVecNode(t, filepath.Join(vecDir, "check-rules.js"))
		if err != nil {
			t.Fatalf("check-rules.js: %v\n%s", err, out)
		}
		t.Log(out)
	})
	t.Run("node", func(t *testing.T) {
		t.Parallel()
		args := []string{filepath.Join(vecDir, "run.js"), "--timeout", "10000", base}
		if testing.Short() {
			args = append(args, "--fast")
		}
		out, err := runVecNode(t, args...)
		if err != nil {
			t.Fatalf("run.js: %v\n%s", err, out)
		}
		t.Log(out)
	})
	t.Run("go", func(t *testing.T) {
		t.Parallel()
		playVecVectors(t, base)
	})
}

// startVecGateway serves server.DefaultConfig() on a loopback port
// until the test ends and returns the echo service's URL.
func startVecGateway(t *testing.T) string {
	t.Helper()
	cfg := server.DefaultConfig()
	ctx, cancel := context.WithCancel(context.Background())
	g, err := server.Build(ctx, cfg, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return "http://" + ln.Addr().String() + "/echo"
}

// runVecNode runs a Node script and returns its output. Without node it
// skips the test, or fails it when CI=true.
func runVecNode(t *testing.T, args ...string) (string, error) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is required in CI for docs/conformance: %v", err)
		}
		t.Skipf("node not found, so docs/conformance's Node runner and rules checker are skipped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

type vecFile struct {
	Vectors []vecVector `json:"vectors"`
}

type vecVector struct {
	ID      string    `json:"id"`
	Pending string    `json:"pending"`
	Slow    bool      `json:"slow"`
	Heavy   bool      `json:"heavy"`
	Steps   []vecStep `json:"steps"`
}

// loadVecVectors reads every vector file (every JSON file but rules.json).
func loadVecVectors(t *testing.T) []vecVector {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(vecDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	var all []vecVector
	for _, f := range files {
		if filepath.Base(f) == "rules.json" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var vf vecFile
		if err := json.Unmarshal(b, &vf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		all = append(all, vf.Vectors...)
	}
	return all
}

// playVecVectors plays every vector, eight at a time (heavy ones one at a
// time) and the slow ones first so that their timers overlap, then reports
// each as a subtest.
func playVecVectors(t *testing.T, base string) {
	vectors := loadVecVectors(t)
	results := make([]error, len(vectors))
	played := make([]time.Duration, len(vectors))
	order := make(chan int, len(vectors))
	for _, slow := range []bool{true, false} {
		for i, v := range vectors {
			if v.Slow == slow && !(slow && testing.Short()) {
				order <- i
			}
		}
	}
	close(order)
	var wg sync.WaitGroup
	var heavy sync.Mutex // heavy vectors (megabytes each) play one at a time
	for range 8 {
		wg.Go(func() {
			for i := range order {
				if vectors[i].Heavy {
					heavy.Lock()
				}
				t0 := time.Now()
				results[i] = newVecPlayer(base, vecTimeout).play(vectors[i].Steps)
				played[i] = time.Since(t0)
				if vectors[i].Heavy {
					heavy.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for i, v := range vectors {
		t.Run(v.ID, func(t *testing.T) {
			switch err := results[i]; {
			case v.Slow && testing.Short():
				t.Skip("slow; skipped with -short")
			case v.Pending != "" && err != nil:
				t.Skipf("pending (%s): %v", v.Pending, err)
			case v.Pending != "":
				t.Logf("passes in %v; its pending mark (%s) can go", played[i].Round(time.Millisecond), v.Pending)
			case err != nil:
				t.Errorf("%v (after %v)", err, played[i].Round(time.Millisecond))
			}
		})
	}
}
