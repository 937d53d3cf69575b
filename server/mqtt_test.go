package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/internal/mqtttest"
	"github.com/ferrygw/ferry/server"
)

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

// TestMQTTOverProxy runs MQTT through the proxy service to a real
// mosquitto on every transport, next to a plain TCP MQTT client on the
// same broker: each sees the other's publishes at QoS 0 and 1, and the
// Ferry client receives its own.
func TestMQTTOverProxy(t *testing.T) {
	broker := mqtttest.StartMosquitto(t)
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
			direct := mqtttest.NewClient(t, tcp, "direct-"+tr)
			up, down := "ferry/"+tr+"/up", "ferry/"+tr+"/down"
			direct.Subscribe(1, up, 1)

			s, err := client.Dial(ctx, ts.URL+"/mqtt", &client.Options{Transport: tr, Protocols: []string{"other", "mqtt"}})
			if err != nil {
				t.Fatal(err)
			}
			if p := s.Subprotocol(); p != "mqtt" {
				t.Fatalf("Subprotocol = %q, want mqtt", p)
			}
			nc := bytesocket.NetConn(ctx, s, bytesocket.Binary)
			defer closeNetConnAndWait(t, nc, s)
			ferry := mqtttest.NewClient(t, nc, "ferry-"+tr)
			ferry.Subscribe(2, "ferry/"+tr+"/#", 1)
			ferry.Ping()

			for qos := range byte(2) {
				msg := fmt.Sprintf("from ferry over %s at QoS %d", tr, qos)
				ferry.Publish(10+uint16(qos), up, qos, msg)
				if got := ferry.Receive(up, msg); got != qos {
					t.Errorf("own message arrived at QoS %d, want %d", got, qos)
				}
				if got := direct.Receive(up, msg); got != qos {
					t.Errorf("direct client got QoS %d, want %d", got, qos)
				}
				msg = fmt.Sprintf("from tcp to %s at QoS %d", tr, qos)
				direct.Publish(20+uint16(qos), down, qos, msg)
				if got := ferry.Receive(down, msg); got != qos {
					t.Errorf("ferry client got QoS %d, want %d", got, qos)
				}
			}
			big := strings.Repeat("x", 100<<10) // over CoalesceBytes: arrives split, reassembled by the stream
			ferry.Publish(30, up, 1, big)
			ferry.Receive(up, big)
			direct.Receive(up, big)
		})
	}
}
