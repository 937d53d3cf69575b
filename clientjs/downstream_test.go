package clientjs_test

import (
	"os"
	"os/exec"
	"testing"
)

// TestDownstreamJS runs downstream_test.js, client.js's tests of events of
// several frames, the silence watchdog and binary delivery, with node.
func TestDownstreamJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not found")
		}
		t.Skip("node not found")
	}
	out, err := exec.Command(node, "--test", "downstream_test.js").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test downstream_test.js: %v\n%s", err, out)
	}
}
