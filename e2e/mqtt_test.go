package e2e

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	broker := startMosquitto(t)
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

	direct := dialMQTT(t, broker, "go-"+name)
	direct.subscribe(1, up, 2)

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
		if got := direct.receive(up, msg); int(got) != qos {
			t.Errorf("QoS %d: the Go client got the page's message at QoS %d", qos, got)
		}
		reply := fmt.Sprintf("from Go to Paho over %s at QoS %d", name, qos)
		direct.publish(uint16(10+qos), down, byte(qos), reply)
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

// startMosquitto runs mosquitto on a free loopback port with its own
// configuration and returns its address; it is killed when the test ends.
// Without the binary the test is skipped, unless CI=true.
func startMosquitto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/mosquitto")
	}
	if err != nil {
		skipOrFail(t, "mosquitto not installed (.ci/install-deps): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	cfg := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n", port)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &mosquittoLog{}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", logs)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("mosquitto exited: %s", logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %s: %s", addr, logs)
		}
	}
}

// mosquittoLog collects mosquitto's output; it is safe for concurrent
// writers.
type mosquittoLog struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (s *mosquittoLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *mosquittoLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A minimal MQTT 3.1.1 client over TCP, for the Go side of TestPaho:
// CONNECT, SUBSCRIBE, and PUBLISH in both directions at QoS 0, 1
// (PUBACK) and 2 (PUBREC, PUBREL, PUBCOMP).

// MQTT control packet types (MQTT 3.1.1, section 2.2.1).
const (
	mqttConnect    = 1
	mqttConnack    = 2
	mqttPublish    = 3
	mqttPuback     = 4
	mqttPubrec     = 5
	mqttPubrel     = 6
	mqttPubcomp    = 7
	mqttSubscribe  = 8
	mqttSuback     = 9
	mqttDisconnect = 14
)

// mqttPacket is one control packet: type, fixed-header flags, and the
// rest.
type mqttPacket struct {
	typ, flags byte
	body       []byte
}

// mqttMessage is a PUBLISH the client received.
type mqttMessage struct {
	topic   string
	qos     byte
	payload string
}

// mqttClient is one connection to the broker. It is used by one
// goroutine.
type mqttClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	got  []mqttMessage   // received and not yet taken by receive
	done map[uint16]bool // our QoS 1 and 2 publishes that completed
}

// dialMQTT connects to the broker with a clean session; the connection is
// closed when the test ends.
func dialMQTT(t *testing.T, addr, id string) *mqttClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &mqttClient{t: t, conn: conn, r: bufio.NewReader(conn), done: map[uint16]bool{}}
	t.Cleanup(func() {
		_, _ = conn.Write(mqttPacket{typ: mqttDisconnect}.encode())
		conn.Close()
	})
	body := appendMQTTString(nil, "MQTT")
	body = append(body, 4, 0x02, 0, 60) // level 4, clean session, keep-alive 60 s
	body = appendMQTTString(body, id)
	c.send(mqttPacket{typ: mqttConnect, body: body})
	if p := c.expect(mqttConnack); len(p.body) != 2 || p.body[1] != 0 {
		t.Fatalf("%s: CONNACK %x, want return code 0", id, p.body)
	}
	return c
}

func appendMQTTString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// encode returns the packet with its fixed header.
func (p mqttPacket) encode() []byte {
	b := []byte{p.typ<<4 | p.flags}
	for n := len(p.body); ; {
		d := byte(n % 128)
		if n /= 128; n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			break
		}
	}
	return append(b, p.body...)
}

func (c *mqttClient) send(p mqttPacket) {
	c.t.Helper()
	if _, err := c.conn.Write(p.encode()); err != nil {
		c.t.Fatalf("mqtt write: %v", err)
	}
}

// ack sends a packet that carries only a packet id.
func (c *mqttClient) ack(typ, flags byte, id uint16) {
	c.t.Helper()
	c.send(mqttPacket{typ: typ, flags: flags, body: binary.BigEndian.AppendUint16(nil, id)})
}

// next reads one packet (within a hang guard) and plays the client's part
// of the QoS flows: it answers PUBLISH with PUBACK or PUBREC and PUBREL
// with PUBCOMP, keeps received messages in c.got, answers PUBREC with
// PUBREL, and records completed publishes (PUBACK, PUBCOMP) in c.done.
func (c *mqttClient) next() mqttPacket {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	p, err := readMQTTPacket(c.r)
	if err != nil {
		c.t.Fatalf("mqtt read: %v", err)
	}
	var id uint16
	if p.typ != mqttPublish && len(p.body) >= 2 {
		id = binary.BigEndian.Uint16(p.body)
	}
	switch p.typ {
	case mqttPublish:
		m, pid := c.parsePublish(p)
		switch m.qos {
		case 1:
			c.ack(mqttPuback, 0, pid)
		case 2:
			c.ack(mqttPubrec, 0, pid)
		}
		c.got = append(c.got, m)
	case mqttPubrel:
		c.ack(mqttPubcomp, 0, id)
	case mqttPubrec:
		c.ack(mqttPubrel, 0x2, id)
	case mqttPuback, mqttPubcomp:
		c.done[id] = true
	}
	return p
}

func readMQTTPacket(r *bufio.Reader) (mqttPacket, error) {
	h, err := r.ReadByte()
	if err != nil {
		return mqttPacket{}, err
	}
	n := 0
	for shift := 0; ; shift += 7 {
		if shift > 21 {
			return mqttPacket{}, errors.New("mqtt: bad remaining length")
		}
		d, err := r.ReadByte()
		if err != nil {
			return mqttPacket{}, err
		}
		n |= int(d&0x7f) << shift
		if d&0x80 == 0 {
			break
		}
	}
	p := mqttPacket{typ: h >> 4, flags: h & 0x0f, body: make([]byte, n)}
	_, err = io.ReadFull(r, p.body)
	return p, err
}

func (c *mqttClient) parsePublish(p mqttPacket) (mqttMessage, uint16) {
	c.t.Helper()
	if len(p.body) < 2 {
		c.t.Fatal("mqtt: short PUBLISH")
	}
	n := int(binary.BigEndian.Uint16(p.body))
	rest := p.body[2:]
	if len(rest) < n {
		c.t.Fatal("mqtt: short PUBLISH topic")
	}
	m := mqttMessage{topic: string(rest[:n]), qos: p.flags >> 1 & 3}
	rest = rest[n:]
	var id uint16
	if m.qos > 0 {
		id = binary.BigEndian.Uint16(rest)
		rest = rest[2:]
	}
	m.payload = string(rest)
	return m, id
}

// expect reads until a packet of type typ arrives.
func (c *mqttClient) expect(typ byte) mqttPacket {
	c.t.Helper()
	for {
		if p := c.next(); p.typ == typ {
			return p
		}
	}
}

func (c *mqttClient) subscribe(id uint16, filter string, qos byte) {
	c.t.Helper()
	body := binary.BigEndian.AppendUint16(nil, id)
	body = append(appendMQTTString(body, filter), qos)
	c.send(mqttPacket{typ: mqttSubscribe, flags: 0x2, body: body})
	if p := c.expect(mqttSuback); len(p.body) != 3 || binary.BigEndian.Uint16(p.body) != id || p.body[2] != qos {
		c.t.Fatalf("SUBACK %x, want id %d granted QoS %d", p.body, id, qos)
	}
}

// publish sends a PUBLISH and, at QoS 1 and 2, waits until its flow
// completes.
func (c *mqttClient) publish(id uint16, topic string, qos byte, payload string) {
	c.t.Helper()
	body := appendMQTTString(nil, topic)
	if qos > 0 {
		body = binary.BigEndian.AppendUint16(body, id)
	}
	c.send(mqttPacket{typ: mqttPublish, flags: qos << 1, body: append(body, payload...)})
	for qos > 0 && !c.done[id] {
		c.next()
	}
}

// receive waits for a PUBLISH on topic with payload and returns its QoS.
func (c *mqttClient) receive(topic, payload string) byte {
	c.t.Helper()
	for {
		for i, m := range c.got {
			if m.topic == topic && m.payload == payload {
				c.got = append(c.got[:i], c.got[i+1:]...)
				return m.qos
			}
		}
		c.next()
	}
}
