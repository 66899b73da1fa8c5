package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// rawHandshake writes a handshake with exactly these header lines (after Host, Upgrade,
// Connection, the version and key) and returns the status.
func rawHandshake(t *testing.T, addr, pathAndQuery string, lines ...string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "GET " + pathAndQuery + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, l := range lines {
		head += l + "\r\n"
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The events carry header names as the client wrote them; the cookie authorizer still
// finds its headers whatever their case, and lines whose names differ only in case still
// count as one header with several values.
func TestCookieAuthorizerFindsHeadersWhateverTheirCase(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	l := loginAs(t, "alice", time.Now().Add(time.Hour))
	q := "/?csrf=" + l.csrf
	for _, tc := range []struct {
		name  string
		lines []string
		want  int
	}{
		{"lower case", []string{"cookie: " + l.cookie, "origin: " + l.origin}, 101},
		{"upper case", []string{"COOKIE: " + l.cookie, "ORIGIN: " + l.origin}, 101},
		{"Origin and origin: two Origins", []string{"Cookie: " + l.cookie, "Origin: " + l.origin, "origin: https://evil.test"}, 403},
		{"the JWT on a second cookie line spelled differently", []string{"cookie: theme=dark", "Cookie: " + l.cookie, "origin: " + l.origin}, 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawHandshake(t, r.WebSocket, q, tc.lines...); got != tc.want {
				t.Errorf("status %d, want %d\nlogs:\n%s", got, tc.want, r.logs.String())
			}
		})
	}
}
