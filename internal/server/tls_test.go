package server

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsgate/wsgate/internal/testutil"
)

func TestTLSListener(t *testing.T) {
	certFile, keyFile, pool := testutil.TLSFiles(t)
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
