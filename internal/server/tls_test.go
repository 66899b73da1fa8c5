package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their paths
// and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wsgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLSListener(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, fmt.Sprintf("  TLS: {CertFile: %s, KeyFile: %s}", certFile, keyFile)), Deps{})
	if !r.TLS {
		t.Fatal("Addrs.TLS is false")
	}
	l := loginAs(t, "alice", time.Now().Add(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c, _, err := websocket.Dial(ctx, "wss://"+r.WebSocket+"/?csrf="+l.csrf, &websocket.DialOptions{
		HTTPClient: client, HTTPHeader: http.Header{"Cookie": {l.cookie}, "Origin": {l.origin}},
	})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer c.CloseNow()
	write(t, c, `{"action":"echo","tls":true}`)
	if got := mustJSON(t, read(t, c)); got["route"] != "echo" {
		t.Errorf("over TLS: %v", got)
	}
}

func TestBinaryFramesWhenAllowed(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, "  Limits: {AllowBinaryFrames: true}"), Deps{})
	c := mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	data := []byte{0xde, 0xad, 0xbe, 0xef}
	if err := c.Write(ctx, websocket.MessageBinary, data); err != nil {
		t.Fatal(err)
	}
	// HTTP_PROXY on $default: the raw bytes reach the backend.
	if call := be.next(t, "/default"); call.Body != string(data) {
		t.Errorf("backend got %q", base64.StdEncoding.EncodeToString([]byte(call.Body)))
	}
	write(t, c, `{"action":"echo"}`) // still open
	read(t, c)
}
