// Package leaktest fails a package's test run when its tests leave
// goroutines behind. Call it from TestMain:
//
//	func TestMain(m *testing.M) { leaktest.Main(m) }
package leaktest

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// settle is how long goroutines get to finish after the tests, polled
// every few milliseconds; a clean run does not wait for it.
const settle = 5 * time.Second

// Main runs the tests and exits. A passing run fails, with every
// goroutine's stack on stderr, if more goroutines are alive after the
// tests than before them. Fuzzing runs are not checked: the fuzzing
// engine keeps goroutines of its own.
func Main(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 && !fuzzing() && !settled(before) {
		fmt.Fprintf(os.Stderr, "leaktest: %d goroutines before the tests, %d after:\n\n%s\n",
			before, runtime.NumGoroutine(), stacks())
		code = 1
	}
	os.Exit(code)
}

// settled waits until at most n goroutines are alive, or settle passes.
func settled(n int) bool {
	for end := time.Now().Add(settle); ; time.Sleep(5 * time.Millisecond) {
		if runtime.NumGoroutine() <= n {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// fuzzing reports whether go test was asked to fuzz.
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

func stacks() []byte {
	buf := make([]byte, 1<<20)
	return buf[:runtime.Stack(buf, true)]
}
