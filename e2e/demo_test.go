package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDemoPage opens the gateway's demo page, waits for it to connect,
// types a message, waits for its echo and saves a screenshot to
// artifacts/demo.png (gitignored).
func TestDemoPage(t *testing.T) {
	needBrowser(t)
	tb := newTab(t)
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(env.mainURL+"/")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tb, `document.getElementById("log").textContent.indexOf("open over") >= 0`, "the demo to connect")
	const msg = "hello from chromedp"
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("msg"), msg),
		chromedp.Click(chromedp.CSS("#f button")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tb, `document.getElementById("log").textContent.indexOf("← `+msg+`") >= 0`, "the echo")
	log := eval[string](tb, `document.getElementById("log").innerText`)
	transport := eval[string](tb, `document.getElementById("transport").textContent`)
	if !strings.Contains(log, "→ "+msg) || transport != "websocket" {
		t.Errorf("transport %q, log:\n%s", transport, log)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("artifacts", 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("artifacts", "demo.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("transport %s; log:\n%s\nscreenshot: e2e/%s (%d bytes)", transport, log, out, len(png))
}

// waitFor polls a JavaScript condition until it is true; the timeout is a
// hang guard.
func waitFor(t *testing.T, tb *tab, cond, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !eval[bool](tb, cond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
