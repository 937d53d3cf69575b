// Package mqtttest gives tests a real MQTT broker and a small MQTT client.
//
// StartMosquitto runs Debian's mosquitto on a free loopback port. Client
// speaks just enough MQTT 3.1.1 over any byte stream (TCP, or a Ferry
// session through bytesocket.NetConn) to check a broker end to end:
// CONNECT with a clean session, SUBSCRIBE, PINGREQ, and PUBLISH both ways
// at QoS 0, 1 (PUBACK) and 2 (PUBREC, PUBREL, PUBCOMP). Nothing else of
// MQTT is implemented.
package mqtttest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartMosquitto runs mosquitto on a free loopback port with a
// configuration of its own and returns its address; it is killed when the
// test ends, and its log is printed if the test failed. Without the binary
// the test is skipped, or fails when CI=true (CI installs every
// dependency, so a missing one is an error there).
func StartMosquitto(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/mosquitto")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mosquitto not installed (run .ci/install-deps): %v", err)
		}
		t.Skipf("mosquitto not installed (.ci/install-deps installs it): %v", err)
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
	logs := &lockedLog{}
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

// lockedLog collects a process's output; it is safe for concurrent
// writers.
type lockedLog struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// MQTT control packet types (MQTT 3.1.1, section 2.2.1).
const (
	typeConnect    = 1
	typeConnack    = 2
	typePublish    = 3
	typePuback     = 4
	typePubrec     = 5
	typePubrel     = 6
	typePubcomp    = 7
	typeSubscribe  = 8
	typeSuback     = 9
	typePingreq    = 12
	typePingresp   = 13
	typeDisconnect = 14
)

// opTimeout bounds every read and write, so that a broken path fails the
// test instead of hanging it.
const opTimeout = 30 * time.Second

// packet is one control packet: its type, the flags of its fixed header,
// and the rest.
type packet struct {
	typ, flags byte
	body       []byte
}

// Message is a PUBLISH a Client received.
type Message struct {
	Topic   string
	QoS     byte
	Payload string
}

// Client is one MQTT connection. Each packet goes out in one Write, so
// over a Ferry NetConn each packet is one WebSocket message. A Client is
// used by one goroutine; any failure ends the test.
type Client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	got  []Message       // received and not yet taken by Receive
	done map[uint16]bool // our QoS 1 and 2 publishes whose flow completed
}

// Dial connects to the broker at addr over TCP as client id, with a clean
// session; when the test ends it sends DISCONNECT and closes.
func Dial(t testing.TB, addr, id string) *Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(t, conn, id)
	t.Cleanup(func() {
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write(packet{typ: typeDisconnect}.encode())
		conn.Close()
	})
	return c
}

// NewClient connects as client id, with a clean session, over conn, which
// the caller closes.
func NewClient(t testing.TB, conn net.Conn, id string) *Client {
	t.Helper()
	c := &Client{t: t, conn: conn, r: bufio.NewReader(conn), done: map[uint16]bool{}}
	body := appendString(nil, "MQTT")
	body = append(body, 4, 0x02, 0, 60) // level 4, clean session, keep-alive 60 s
	body = appendString(body, id)
	c.send(packet{typ: typeConnect, body: body})
	if p := c.expect(typeConnack); len(p.body) != 2 || p.body[1] != 0 {
		t.Fatalf("%s: CONNACK %x, want return code 0", id, p.body)
	}
	return c
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// encode returns the packet with its fixed header.
func (p packet) encode() []byte {
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

// readPacket reads one packet.
func readPacket(r *bufio.Reader) (packet, error) {
	h, err := r.ReadByte()
	if err != nil {
		return packet{}, err
	}
	n := 0
	for shift := 0; ; shift += 7 {
		if shift > 21 {
			return packet{}, errors.New("mqtt: bad remaining length")
		}
		d, err := r.ReadByte()
		if err != nil {
			return packet{}, err
		}
		n |= int(d&0x7f) << shift
		if d&0x80 == 0 {
			break
		}
	}
	p := packet{typ: h >> 4, flags: h & 0x0f, body: make([]byte, n)}
	_, err = io.ReadFull(r, p.body)
	return p, err
}

func (c *Client) send(p packet) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(opTimeout))
	if _, err := c.conn.Write(p.encode()); err != nil {
		c.t.Fatalf("mqtt write: %v", err)
	}
}

// ack sends a packet that carries only a packet id.
func (c *Client) ack(typ, flags byte, id uint16) {
	c.t.Helper()
	c.send(packet{typ: typ, flags: flags, body: binary.BigEndian.AppendUint16(nil, id)})
}

// next reads one packet and plays the client's part of the QoS flows: it
// answers PUBLISH with PUBACK or PUBREC, PUBREL with PUBCOMP and PUBREC
// with PUBREL; it keeps received messages in c.got and records completed
// publishes (PUBACK, PUBCOMP) in c.done.
func (c *Client) next() packet {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(opTimeout))
	p, err := readPacket(c.r)
	if err != nil {
		c.t.Fatalf("mqtt read: %v", err)
	}
	var id uint16
	if p.typ != typePublish && len(p.body) >= 2 {
		id = binary.BigEndian.Uint16(p.body)
	}
	switch p.typ {
	case typePublish:
		m, pid := c.parsePublish(p)
		switch m.QoS {
		case 1:
			c.ack(typePuback, 0, pid)
		case 2:
			c.ack(typePubrec, 0, pid)
		}
		c.got = append(c.got, m)
	case typePubrel:
		c.ack(typePubcomp, 0, id)
	case typePubrec:
		c.ack(typePubrel, 0x2, id)
	case typePuback, typePubcomp:
		c.done[id] = true
	}
	return p
}

func (c *Client) parsePublish(p packet) (Message, uint16) {
	c.t.Helper()
	if len(p.body) < 2 {
		c.t.Fatal("mqtt: short PUBLISH")
	}
	n := int(binary.BigEndian.Uint16(p.body))
	rest := p.body[2:]
	if len(rest) < n {
		c.t.Fatal("mqtt: short PUBLISH topic")
	}
	m := Message{Topic: string(rest[:n]), QoS: p.flags >> 1 & 3}
	rest = rest[n:]
	var id uint16
	if m.QoS > 0 {
		if len(rest) < 2 {
			c.t.Fatal("mqtt: PUBLISH without a packet id")
		}
		id = binary.BigEndian.Uint16(rest)
		rest = rest[2:]
	}
	m.Payload = string(rest)
	return m, id
}

// expect reads until a packet of type typ arrives.
func (c *Client) expect(typ byte) packet {
	c.t.Helper()
	for {
		if p := c.next(); p.typ == typ {
			return p
		}
	}
}

// Subscribe subscribes to filter at qos and checks that the broker
// granted it.
func (c *Client) Subscribe(id uint16, filter string, qos byte) {
	c.t.Helper()
	body := binary.BigEndian.AppendUint16(nil, id)
	body = append(appendString(body, filter), qos)
	c.send(packet{typ: typeSubscribe, flags: 0x2, body: body})
	if p := c.expect(typeSuback); len(p.body) != 3 || binary.BigEndian.Uint16(p.body) != id || p.body[2] != qos {
		c.t.Fatalf("SUBACK %x, want id %d granted QoS %d", p.body, id, qos)
	}
}

// Publish sends a PUBLISH with packet id id and, at QoS 1 and 2, waits
// until its flow completes.
func (c *Client) Publish(id uint16, topic string, qos byte, payload string) {
	c.t.Helper()
	body := appendString(nil, topic)
	if qos > 0 {
		body = binary.BigEndian.AppendUint16(body, id)
	}
	c.send(packet{typ: typePublish, flags: qos << 1, body: append(body, payload...)})
	for qos > 0 && !c.done[id] {
		c.next()
	}
}

// Ping sends PINGREQ and waits for PINGRESP.
func (c *Client) Ping() {
	c.t.Helper()
	c.send(packet{typ: typePingreq})
	c.expect(typePingresp)
}

// Receive waits for a PUBLISH on topic with payload and returns its QoS.
func (c *Client) Receive(topic, payload string) byte {
	c.t.Helper()
	for {
		for i, m := range c.got {
			if m.Topic == topic && m.Payload == payload {
				c.got = append(c.got[:i], c.got[i+1:]...)
				return m.QoS
			}
		}
		c.next()
	}
}
