// Package e2e holds Ferry's browser tests: they drive a real headless
// Chromium with chromedp against a real Ferry gateway on loopback.
//
// Everything lives in test files. TestMain starts three HTTP servers and
// one Chromium process for the whole package:
//
//   - the main gateway (echo at /echo, a closing service at /closer, and
//     the test pages under /e2e/), which the differential, echo, legacy
//     and demo tests use from its own origin;
//   - a second gateway, served with Gateway.Serve, whose origin list holds
//     only the pages server below;
//   - a pages server on another port (another origin) for the CORS tests.
//
// Besides, tests start their own real processes on demand: squid (with
// Debian's rules) and a buffering nginx in the browser's path, each with
// its own proxied Chromium (network_test.go, proxies_test.go); a fault
// proxy with reset_peer, limit_data and timeout faults (chaos_test.go);
// an idle-cutting proxy (idle_test.go); mosquitto behind Ferry's proxy
// service for Paho MQTT in the page (mqtt_test.go).
//
// The browser runs the page script testdata/runner.js; Go starts a case
// with E2E.start(...) and polls E2E.result(id), so no page needs Promise.
//
// Run with
//
//	go test -race -count=1 ./e2e/ -v
//
// Chromium is /usr/bin/chromium (Debian's chromium package, or set
// FERRY_CHROMIUM); squid, nginx and mosquitto come from Debian's packages.
// Without them the tests skip, except when CI=true, where they fail.
//
// Environment knobs:
//
//   - FERRY_E2E_LOG=1 prints the gateways' logs and every page's console;
//   - FERRY_E2E_CASES=a,b runs only those differential cases;
//   - FERRY_E2E_STRICT=1 fails on the documented places where Chromium
//     departs from the standard and Ferry follows the standard
//     (specDeviations in api_test.go), instead of logging them;
//   - FERRY_CHAOS_SEED=n repeats a chaos run's fault draws (each run logs
//     its seed).
package e2e
