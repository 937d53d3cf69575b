package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/internal/mqtttest"
	"github.com/ferrygw/ferry/server"
)

// pahoSource is Eclipse Paho's browser client, installed by npm as a dev
// dependency (package.json) and served to the page unchanged.
var pahoSource = filepath.Join("..", "node_modules", "paho-mqtt", "paho-mqtt.js")

// TestPaho runs Eclipse Paho's MQTT client, unchanged, in the browser on
// the WebSocket that Ferry.install() puts in place, through Ferry's proxy
// service to a real mosquitto, next to a Go MQTT client connected to
// mosquitto directly. On each network and transport the page connects,
// subscribes, and at QoS 0, 1 and 2 publishes a message that both it and
// the Go client receive at that QoS, and receives the Go client's.
//
// Networks: direct, with each transport forced by Ferry.configure before
// install; behind squid (Debian's rules refuse the WebSocket's CONNECT),
// where Ferry must land on sse; and behind a buffering nginx, where it
// must land on longpoll.
func TestPaho(t *testing.T) {
	needBrowser(t)
	if _, err := os.Stat(pahoSource); err != nil {
		skipOrFail(t, "paho-mqtt not installed (npm ci): %v", err)
	}
	broker := mqtttest.StartMosquitto(t)
	site := startPahoSite(t, broker)
	t.Run("group", func(t *testing.T) {
		for _, tr := range []string{"websocket", "sse", "longpoll"} {
			t.Run("direct-"+tr, func(t *testing.T) {
				t.Parallel()
				tb := newTab(t)
				runPaho(t, tb, broker, site, "direct-"+tr, tr, tr)
			})
		}
		t.Run("squid", func(t *testing.T) {
			t.Parallel()
			tb := proxiedTab(t, squidAddr(t))
			runPaho(t, tb, broker, site, "squid", "", "sse")
		})
		t.Run("nginx", func(t *testing.T) {
			t.Parallel()
			base := startNginx(t, site)
			tb := newTab(t)
			runPaho(t, tb, broker, base, "nginx", "", "longpoll")
		})
	})
}

// pahoState is Mqtt.state() of mqtt.js.
type pahoState struct {
	Installed  bool      `json:"installed"`
	Connected  bool      `json:"connected"`
	Subscribed int       `json:"subscribed"`
	Error      string    `json:"error"`
	Lost       []string  `json:"lost"`
	Got        []pahoMsg `json:"got"`
	Delivered  []pahoMsg `json:"delivered"`
}

// pahoMsg is a message Paho received or delivered.
type pahoMsg struct {
	Topic   string `json:"topic"`
	Payload string `json:"payload"`
	QoS     int    `json:"qos"`
}

// findPahoMsg returns the message on topic with payload, if any.
func findPahoMsg(msgs []pahoMsg, topic, payload string) (pahoMsg, bool) {
	for _, m := range msgs {
		if m.Topic == topic && m.Payload == payload {
			return m, true
		}
	}
	return pahoMsg{}, false
}

// runPaho runs one case: the page at base (from the site, or a proxy in
// front of it), with the transport forced unless transport is "", must
// end up on want.
func runPaho(t *testing.T, tb *tab, broker, base, name, transport, want string) {
	start := time.Now()
	page := base + "/e2e/mqtt.html"
	if transport != "" {
		page += "?transport=" + transport
	}
	tb.open(page)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	topic := "ferry-e2e/" + name
	up, down := topic+"/up", topic+"/down"

	direct := mqtttest.Dial(t, broker, "go-"+name)
	direct.Subscribe(1, up, 2)

	params, _ := json.Marshal(map[string]string{"url": "ws://" + u.Host + "/mqtt", "clientId": "paho-" + name, "filter": topic + "/#"})
	eval[any](tb, fmt.Sprintf("Mqtt.connect(%s), 0", params))
	st := pollPage[pahoState](tb, "Mqtt.state()", 60*time.Second, func(s pahoState) bool {
		return s.Subscribed >= 0 || s.Error != "" || len(s.Lost) > 0
	})
	if !st.Installed {
		t.Fatal("window.WebSocket is not Ferry.WebSocket after Ferry.install()")
	}
	if st.Subscribed != 2 {
		t.Fatalf("Paho: connected %v, granted QoS %d, error %q, lost %v", st.Connected, st.Subscribed, st.Error, st.Lost)
	}
	for qos := range 3 {
		msg := fmt.Sprintf("from Paho over %s at QoS %d", name, qos)
		eval[any](tb, fmt.Sprintf("Mqtt.publish(%q, %q, %d), 0", up, msg, qos))
		if got := direct.Receive(up, msg); int(got) != qos {
			t.Errorf("QoS %d: the Go client got the page's message at QoS %d", qos, got)
		}
		reply := fmt.Sprintf("from Go to Paho over %s at QoS %d", name, qos)
		direct.Publish(uint16(10+qos), down, byte(qos), reply)
		st = pollPage[pahoState](tb, "Mqtt.state()", 30*time.Second, func(s pahoState) bool {
			_, own := findPahoMsg(s.Got, up, msg)
			_, delivered := findPahoMsg(s.Delivered, up, msg)
			_, replied := findPahoMsg(s.Got, down, reply)
			return (own && delivered && replied) || len(s.Lost) > 0
		})
		own, okOwn := findPahoMsg(st.Got, up, msg)
		_, okDelivered := findPahoMsg(st.Delivered, up, msg)
		got, okReply := findPahoMsg(st.Got, down, reply)
		switch {
		case !okOwn || !okDelivered || !okReply:
			t.Errorf("QoS %d: page received its own message %v, saw it delivered %v, received the Go client's %v; lost %v",
				qos, okOwn, okDelivered, okReply, st.Lost)
		case own.QoS != qos || got.QoS != qos:
			t.Errorf("QoS %d: page received its own message at QoS %d and the Go client's at QoS %d", qos, own.QoS, got.QoS)
		default:
			t.Logf("%s × %s × QoS %d: ok (page → broker → page and Go, Go → broker → page)", name, want, qos)
		}
	}
	if len(st.Lost) > 0 {
		t.Errorf("Paho lost its connection: %v", st.Lost)
	}
	eval[any](tb, "Mqtt.disconnect(), 0")

	// Where Ferry landed: the downstream requests the browser made (the
	// client tries websocket, then sse, then longpoll).
	got := "websocket"
	switch {
	case len(tb.requestsMatching("/mqtt/.ferry/")) == 0:
		got = "none (Paho did not go through Ferry)"
	case len(tb.requestsMatching("/poll")) > 0:
		got = "longpoll"
	case len(tb.requestsMatching("/sse")) > 0:
		got = "sse"
	}
	if got != want {
		t.Errorf("transport %s, want %s", got, want)
	}
	t.Logf("%s: Paho on %s, QoS 0-2 both ways in %v", name, got, time.Since(start).Round(100*time.Millisecond))
}

// startPahoSite serves the page, client.js, Paho and Ferry's proxy
// service to the broker at /mqtt on one loopback origin, and returns its
// base URL.
func startPahoSite(t *testing.T, broker string) string {
	t.Helper()
	gw := server.NewGateway(nil, logger())
	gw.Handle("/mqtt", server.ServiceConfig{Protocols: []string{"mqtt"}},
		server.Proxy(server.ProxyConfig{Connect: "tcp://" + broker, DialTimeout: 5 * time.Second}))
	files := http.StripPrefix("/e2e/", http.FileServer(http.Dir("testdata")))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/e2e/"):
			w.Header().Set("Cache-Control", "no-store")
			files.ServeHTTP(w, r)
		case r.URL.Path == "/paho-mqtt.js":
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			http.ServeFile(w, r, pahoSource)
		default:
			gw.ServeHTTP(w, r) // /client.js and /mqtt
		}
	})
	return "http://" + serveLoopback(t, h)
}
