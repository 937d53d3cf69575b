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

// conformanceDir holds the language-neutral conformance vectors.
var conformanceDir = filepath.Join("..", "docs", "conformance")

// TestConformanceVectors plays the conformance vectors of docs/conformance
// against the default gateway (what the ferry command serves without a
// configuration file) twice: with the Node runner, docs/conformance/run.js,
// in a subprocess, and with this package's Go player. It also runs
// docs/conformance/check-rules.js, which ties every MUST sentence of
// docs/PROTOCOL.md to vectors. Vectors marked pending are reported, not
// failed; with -short, vectors marked slow (timers of 25 to 55 s) are
// skipped. Without node the Node parts are skipped, unless CI=true.
func TestConformanceVectors(t *testing.T) {
	base := startDefaultGateway(t)
	t.Run("rules", func(t *testing.T) {
		out, err := runNode(t, filepath.Join(conformanceDir, "check-rules.js"))
		if err != nil {
			t.Fatalf("check-rules.js: %v\n%s", err, out)
		}
		t.Log(out)
	})
	t.Run("node", func(t *testing.T) {
		t.Parallel()
		args := []string{filepath.Join(conformanceDir, "run.js"), base}
		if testing.Short() {
			args = append(args, "--fast")
		}
		out, err := runNode(t, args...)
		if err != nil {
			t.Fatalf("run.js: %v\n%s", err, out)
		}
		t.Log(out)
	})
	t.Run("go", func(t *testing.T) {
		t.Parallel()
		playVectors(t, base)
	})
}

// startDefaultGateway serves server.DefaultConfig() on a loopback port
// until the test ends and returns the echo service's URL.
func startDefaultGateway(t *testing.T) string {
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

// runNode runs a Node script and returns its output. Without node it
// skips the test, or fails it when CI=true.
func runNode(t *testing.T, args ...string) (string, error) {
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

type vectorFile struct {
	Vectors []vector `json:"vectors"`
}

type vector struct {
	ID      string `json:"id"`
	Pending string `json:"pending"`
	Slow    bool   `json:"slow"`
	Steps   []step `json:"steps"`
}

// loadVectors reads every vector file (every JSON file but rules.json).
func loadVectors(t *testing.T) []vector {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(conformanceDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	var all []vector
	for _, f := range files {
		if filepath.Base(f) == "rules.json" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var vf vectorFile
		if err := json.Unmarshal(b, &vf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		all = append(all, vf.Vectors...)
	}
	return all
}

// playVectors plays every vector, eight at a time and the slow ones
// first so that their timers overlap, then reports each as a subtest.
func playVectors(t *testing.T, base string) {
	vectors := loadVectors(t)
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
	for range 8 {
		wg.Go(func() {
			for i := range order {
				t0 := time.Now()
				results[i] = newVecPlayer(base, 5*time.Second).play(vectors[i].Steps)
				played[i] = time.Since(t0)
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
