package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
	"github.com/gorilla/websocket"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ferry test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRunTLSAndStatic serves a configuration with TLS and a static
// directory, and checks https, wss and the emulated transports over TLS.
func TestRunTLSAndStatic(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	static := filepath.Join(dir, "public")
	_ = os.Mkdir(static, 0o755)
	_ = os.WriteFile(filepath.Join(static, "index.html"), []byte("<h1>mine</h1>"), 0o644)
	addr := freeAddr(t)
	yaml := "listen: " + addr + "\ntls:\n  cert: " + certFile + "\n  key: " + keyFile + "\nstatic: " + static + "\nlog:\n  format: json\n"
	cfg, err := server.ParseConfig("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs strings.Builder
	go func() { done <- server.Run(ctx, cfg, &logs) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	tlsCfg := &tls.Config{RootCAs: pool}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	var resp *http.Response
	for range 100 { // wait for the listener
		if resp, err = hc.Get("https://" + addr + "/"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "<h1>mine</h1>" {
		t.Fatalf("GET / = %q, want the static index", body)
	}
	for _, tr := range []string{client.WebSocket, client.SSE} {
		s, err := client.Dial(context.Background(), "wss://"+addr+"/echo", &client.Options{
			Transport: tr, HTTPClient: hc, Dialer: &websocket.Dialer{TLSClientConfig: tlsCfg},
		})
		if err != nil {
			t.Fatalf("%s over TLS: %v", tr, err)
		}
		echoOnce(t, s, "over tls "+tr)
		closeAndWait(t, s)
	}
	if !strings.Contains(logs.String(), `"msg":"ferry serving"`) {
		t.Errorf("expected JSON logs, got %q", logs.String())
	}
}

// TestRunProxyAndBroadcast serves a configuration with a proxy service
// (to a TCP echo back end) and a broadcast service with HTTP publishing.
func TestRunProxyAndBroadcast(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	addr, pprofAddr := freeAddr(t), freeAddr(t)
	yaml := "listen: " + addr + "\npprof: " + pprofAddr + "\nservices:\n" +
		"  - path: /tcp\n    type: proxy\n    connect: tcp://" + backend.Addr().String() + "\n" +
		"  - path: /feed\n    type: broadcast\n    publish_secret: s3cret\n"
	cfg, err := server.ParseConfig("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg, io.Discard) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var p bytesocket.Socket
	for range 100 { // wait for the listener
		if p, err = client.Dial(context.Background(), "ws://"+addr+"/tcp", &client.Options{Transport: client.SSE}); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Write(ctx2, bytesocket.Binary, []byte("through the proxy")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := p.Read(ctx2); err != nil || string(got) != "through the proxy" {
		t.Fatalf("proxy echo: %q %v", got, err)
	}
	closeAndWait(t, p)

	sub, err := client.Dial(context.Background(), "ws://"+addr+"/feed", &client.Options{Transport: client.WebSocket})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 { // publish until the subscriber is registered
		req, _ := http.NewRequest("POST", "http://"+addr+"/publish/feed", strings.NewReader("news"))
		req.Header.Set("Authorization", "Bearer s3cret")
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("publish: %v %v", resp, err)
		}
		resp.Body.Close()
		rctx, rcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, got, err := sub.Read(rctx)
		rcancel()
		if err == nil {
			if string(got) != "news" {
				t.Fatalf("broadcast got %q", got)
			}
			break
		}
	}
	closeAndWait(t, sub)

	resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pprof: %v %v", resp, err)
	}
	resp.Body.Close()
}
