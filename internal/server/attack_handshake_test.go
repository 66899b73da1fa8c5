package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Handshakes that are not valid WebSocket upgrades (RFC 6455 §4.2.1) are refused before
// anything with a side effect: neither the authorizer nor the $connect integration runs,
// so no backend ever hears of a connection that never existed.
func TestInvalidUpgradeHasNoSideEffects(t *testing.T) {
	tests := []struct {
		name       string
		headers    string // after the request line and Host
		wantStatus int
		wantHeader [2]string
	}{
		{name: "no Sec-WebSocket-Key", headers: "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n", wantStatus: 400},
		{name: "key not 16 bytes", headers: "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n", wantStatus: 400},
		{name: "key not base64", headers: "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n", wantStatus: 400},
		{name: "two keys", headers: "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", wantStatus: 400},
		{name: "no version", headers: "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", wantStatus: 426, wantHeader: [2]string{"Sec-WebSocket-Version", "13"}},
		{name: "version 8", headers: "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", wantStatus: 426, wantHeader: [2]string{"Sec-WebSocket-Version", "13"}},
		{name: "no Connection: Upgrade", headers: "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", wantStatus: 426},
	}
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", r.WebSocket)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			req := "GET /?csrf=" + alice.csrf + " HTTP/1.1\r\nHost: " + r.WebSocket + "\r\n" + tt.headers +
				"Origin: " + alice.origin + "\r\nCookie: " + alice.cookie + "\r\n\r\n"
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if k := tt.wantHeader[0]; k != "" && resp.Header.Get(k) != tt.wantHeader[1] {
				t.Errorf("%s = %q, want %q", k, resp.Header.Get(k), tt.wantHeader[1])
			}
		})
	}
	// A valid handshake afterwards: its $connect is the first the backend sees.
	mustDial(t, r, alice)
	be.next(t, "/connect")
	if n := be.count("/connect"); n != 1 {
		t.Errorf("the backend saw %d $connect calls, want 1 (only the valid handshake's)", n)
	}
	if !strings.Contains(r.logs.String(), `"outcome":"bad_handshake"`) {
		t.Error("no bad_handshake outcome logged")
	}
}

// The subprotocol is chosen per handshake: any number of distinct values selected by the
// $connect integration work, and nothing on the server grows with them.
func TestManyDistinctSubprotocols(t *testing.T) {
	be := echoBackend(t)
	cfg := strings.Replace(chatConfig(be.URL, ""), "      integration.request.querystring.room: route.request.querystring.room\n",
		"      integration.request.querystring.room: route.request.querystring.room\n      integration.request.header.X-Want-Subprotocol: route.request.querystring.proto\n", 1)
	r := startGateway(t, cfg, Deps{})
	for i := range 100 {
		l := loginAs(t, "alice", time.Now().Add(time.Hour))
		p := fmt.Sprintf("made.up.%d", i)
		l.csrf += "&proto=" + p
		c := mustDial(t, r, l, p)
		if got := c.Subprotocol(); got != p {
			t.Fatalf("handshake %d: subprotocol %q, want %q", i, got, p)
		}
		c.CloseNow()
	}
}
