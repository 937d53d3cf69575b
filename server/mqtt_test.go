package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

// This file holds a real mosquitto broker for the tests and a minimal
// MQTT 3.1.1 client: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH at QoS 0
// and 1 with PUBACK, PINGREQ/PINGRESP. Nothing else of MQTT is needed.

// startMosquitto runs mosquitto on a free loopback port with its own
// config file and returns its address; it is killed when the test ends.
// Without the binary the test is skipped, unless CI=true.
func startMosquitto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/mosquitto")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mosquitto not installed (run .ci/install-deps)")
		}
		t.Skip("mosquitto not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	cfg := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n", port)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", logs.String())
		}
	})
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("mosquitto exited: %s", logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// closeNetConnAndWait closes nc, which closes s with 1000, and waits for
// the close handshake to finish.
func closeNetConnAndWait(t testing.TB, nc net.Conn, s bytesocket.Socket) {
	t.Helper()
	if err := nc.Close(); err != nil {
		t.Error(err)
	}
	if c, ok := s.(*client.Conn); ok {
		select {
		case <-c.Done():
		case <-time.After(30 * time.Second):
			t.Error("close handshake did not finish")
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// MQTT packet types (MQTT 3.1.1, section 2.2.1).
const (
	mqttConnect   = 1
	mqttConnack   = 2
	mqttPublish   = 3
	mqttPuback    = 4
	mqttSubscribe = 8
	mqttSuback    = 9
	mqttPingreq   = 12
	mqttPingresp  = 13
)

// mqttPacket is one control packet: the type, the flags of the fixed
// header and the rest.
type mqttPacket struct {
	typ   byte
	flags byte
	body  []byte
}

// mqttMessage is a received PUBLISH.
type mqttMessage struct {
	topic   string
	qos     byte
	payload string
}

func appendMQTTString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// encode returns the packet with its fixed header.
func (p mqttPacket) encode() []byte {
	b := []byte{p.typ<<4 | p.flags}
	n := len(p.body)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			break
		}
	}
	return append(b, p.body...)
}

func readMQTTPacket(r *bufio.Reader) (mqttPacket, error) {
	h, err := r.ReadByte()
	if err != nil {
		return mqttPacket{}, err
	}
	n, shift := 0, 0
	for {
		d, err := r.ReadByte()
		if err != nil {
			return mqttPacket{}, err
		}
		n |= int(d&0x7f) << shift
		if d&0x80 == 0 {
			break
		}
		if shift += 7; shift > 21 {
			return mqttPacket{}, errors.New("mqtt: bad remaining length")
		}
	}
	p := mqttPacket{typ: h >> 4, flags: h & 0x0f, body: make([]byte, n)}
	_, err = io.ReadFull(r, p.body)
	return p, err
}

// mqttClient speaks MQTT over any byte stream. Each packet is written with
// one Write, so over a Ferry NetConn each packet is one message.
type mqttClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	got  []mqttMessage // PUBLISHes received and not yet taken
	acks map[uint16]bool
}

func newMQTTClient(t testing.TB, conn net.Conn, id string) *mqttClient {
	t.Helper()
	c := &mqttClient{t: t, conn: conn, r: bufio.NewReader(conn), acks: map[uint16]bool{}}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	body := appendMQTTString(nil, "MQTT")
	body = append(body, 4, 0x02, 0, 60) // level 4, clean session, keepalive 60 s
	body = appendMQTTString(body, id)
	c.send(mqttPacket{typ: mqttConnect, body: body})
	p := c.expect(mqttConnack)
	if len(p.body) != 2 || p.body[1] != 0 {
		t.Fatalf("%s: CONNACK %x, want return code 0", id, p.body)
	}
	return c
}

func (c *mqttClient) send(p mqttPacket) {
	c.t.Helper()
	if _, err := c.conn.Write(p.encode()); err != nil {
		c.t.Fatalf("mqtt write: %v", err)
	}
}

// next reads one packet; PUBLISHes are acknowledged (QoS 1) and queued in
// c.got, PUBACKs recorded in c.acks.
func (c *mqttClient) next() mqttPacket {
	c.t.Helper()
	p, err := readMQTTPacket(c.r)
	if err != nil {
		c.t.Fatalf("mqtt read: %v", err)
	}
	switch p.typ {
	case mqttPublish:
		m, id := parsePublish(c.t, p)
		if m.qos == 1 {
			c.send(mqttPacket{typ: mqttPuback, body: binary.BigEndian.AppendUint16(nil, id)})
		}
		c.got = append(c.got, m)
	case mqttPuback:
		c.acks[binary.BigEndian.Uint16(p.body)] = true
	}
	return p
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

func parsePublish(t testing.TB, p mqttPacket) (mqttMessage, uint16) {
	t.Helper()
	if len(p.body) < 2 {
		t.Fatalf("short PUBLISH")
	}
	n := int(binary.BigEndian.Uint16(p.body))
	rest := p.body[2:]
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

func (c *mqttClient) subscribe(id uint16, filter string, qos byte) {
	c.t.Helper()
	body := binary.BigEndian.AppendUint16(nil, id)
	body = append(appendMQTTString(body, filter), qos)
	c.send(mqttPacket{typ: mqttSubscribe, flags: 0x2, body: body})
	p := c.expect(mqttSuback)
	if len(p.body) != 3 || binary.BigEndian.Uint16(p.body) != id || p.body[2] != qos {
		c.t.Fatalf("SUBACK %x, want id %d granted QoS %d", p.body, id, qos)
	}
}

// publish sends a PUBLISH; at QoS 1 it waits for the PUBACK.
func (c *mqttClient) publish(id uint16, topic string, qos byte, payload string) {
	c.t.Helper()
	body := appendMQTTString(nil, topic)
	if qos > 0 {
		body = binary.BigEndian.AppendUint16(body, id)
	}
	c.send(mqttPacket{typ: mqttPublish, flags: qos << 1, body: append(body, payload...)})
	for qos > 0 && !c.acks[id] {
		c.next()
	}
}

func (c *mqttClient) ping() {
	c.t.Helper()
	c.send(mqttPacket{typ: mqttPingreq})
	c.expect(mqttPingresp)
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

// TestMQTTOverProxy runs MQTT through the proxy service to a real
// mosquitto on every transport, next to a plain TCP MQTT client on the
// same broker: each sees the other's publishes at QoS 0 and 1, and the
// Ferry client receives its own.
func TestMQTTOverProxy(t *testing.T) {
	broker := startMosquitto(t)
	g := server.NewGateway(nil, nil)
	g.Handle("/mqtt", server.ServiceConfig{Protocols: []string{"mqtt"}},
		server.Proxy(server.ProxyConfig{Connect: "tcp://" + broker, DialTimeout: 5 * time.Second}))
	ts := httptest.NewServer(g)
	defer ts.Close()
	for _, tr := range []string{client.WebSocket, client.SSE, client.LongPoll} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tcp, err := net.Dial("tcp", broker)
			if err != nil {
				t.Fatal(err)
			}
			defer tcp.Close()
			direct := newMQTTClient(t, tcp, "direct-"+tr)
			up, down := "ferry/"+tr+"/up", "ferry/"+tr+"/down"
			direct.subscribe(1, up, 1)

			s, err := client.Dial(ctx, ts.URL+"/mqtt", &client.Options{Transport: tr, Protocols: []string{"other", "mqtt"}})
			if err != nil {
				t.Fatal(err)
			}
			if p := s.Subprotocol(); p != "mqtt" {
				t.Fatalf("Subprotocol = %q, want mqtt", p)
			}
			nc := bytesocket.NetConn(ctx, s, bytesocket.Binary)
			defer closeNetConnAndWait(t, nc, s)
			ferry := newMQTTClient(t, nc, "ferry-"+tr)
			ferry.subscribe(2, "ferry/"+tr+"/#", 1)
			ferry.ping()

			for qos := range byte(2) {
				msg := fmt.Sprintf("from ferry over %s at QoS %d", tr, qos)
				ferry.publish(10+uint16(qos), up, qos, msg)
				if got := ferry.receive(up, msg); got != qos {
					t.Errorf("own message arrived at QoS %d, want %d", got, qos)
				}
				if got := direct.receive(up, msg); got != qos {
					t.Errorf("direct client got QoS %d, want %d", got, qos)
				}
				msg = fmt.Sprintf("from tcp to %s at QoS %d", tr, qos)
				direct.publish(20+uint16(qos), down, qos, msg)
				if got := ferry.receive(down, msg); got != qos {
					t.Errorf("ferry client got QoS %d, want %d", got, qos)
				}
			}
			big := strings.Repeat("x", 100<<10) // over CoalesceBytes: arrives split, reassembled by the stream
			ferry.publish(30, up, 1, big)
			ferry.receive(up, big)
			direct.receive(up, big)
		})
	}
}
