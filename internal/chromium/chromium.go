// Package chromium finds and configures the headless Chromium that Ferry's
// browser tests (e2e) and browser benchmark (bench/browser) drive with
// chromedp.
package chromium

import (
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/chromedp/chromedp"
)

// Default is where Debian's chromium package installs the browser.
const Default = "/usr/bin/chromium"

// Path returns the Chromium binary to run: explicit when it is set (a
// command-line flag), else $FERRY_CHROMIUM, else Default, else chromium
// on PATH. explicit and $FERRY_CHROMIUM are taken as they are, so a wrong
// one fails when the browser starts, with that path in the error.
func Path(explicit string) (string, error) {
	for _, p := range []string{explicit, os.Getenv("FERRY_CHROMIUM")} {
		if p != "" {
			return p, nil
		}
	}
	if _, err := os.Stat(Default); err == nil {
		return Default, nil
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		return "", fmt.Errorf("chromium not found (apt-get install -y chromium): %w", err)
	}
	return p, nil
}

// Options returns the chromedp allocator options for a headless Chromium
// at path with its own user-data directory, writing its output to out.
// Nothing runs in the background (no network, updates, sync or first-run
// UI), QUIC is off so every request is the TCP a test or proxy sees, and
// no tab or timer is throttled: the tabs of one run work side by side and
// a hidden tab must not slow down. Options given after these win.
func Options(path, userDataDir string, out io.Writer) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(userDataDir),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1000, 800),
		chromedp.CombinedOutput(out),
	}
}
