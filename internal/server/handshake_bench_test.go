package server

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHandshake is one authenticated connection's life as `bench/run connect` and
// the peers comparison make it, in process: a browser's handshake (JWT and CSRF-TOKEN
// cookies, Origin, ?csrf=) through Serve's listener and the built-in cookie authorizer,
// the 101, then the client's close frame and the server's answer. Every connection
// presents its own token, as the load's clients do. The clients are bare sockets
// writing a prepared request, so what is measured is the gateway's work plus a
// constant: cpu-us/op is the process's CPU time (user+system) per connection, the
// stable figure (ns/op moves with the machine's other load).
//
//	go test -run '^$' -bench Handshake -benchmem ./internal/server
func BenchmarkHandshake(b *testing.B) {
	cfg := `
Api: {RouteSelectionExpression: $request.body.action}
Stage: {StageName: bench}
Authorizers:
` + cookieAuthorizerYAML + `Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: cookie}
`
	r := startGateway(b, cfg, Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	const tokens = 4096
	reqs := make([][]byte, tokens)
	for i := range reqs {
		l := loginAs(b, "user-"+strconv.Itoa(i), time.Now().Add(time.Hour))
		reqs[i] = []byte("GET /?csrf=" + l.csrf + " HTTP/1.1\r\nHost: " + r.WebSocket +
			"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: " + l.origin +
			"\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" +
			"\r\nAccept-Language: en-GB,en;q=0.9\r\nCache-Control: no-cache\r\nPragma: no-cache" +
			"\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits" +
			"\r\nCookie: " + l.cookie + "\r\n\r\n")
	}
	// A masked close frame, code 1000 (RFC 6455 §5.5.1), with a zero mask.
	closeFrame := []byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8) // 8 × GOMAXPROCS handshakes in flight, as the load's 32 on 2-4 cores
	cpu0 := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 512)
		for pb.Next() {
			req := reqs[int(next.Add(1))%tokens]
			if err := handshakeOnce(r.WebSocket, req, closeFrame, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}

// handshakeOnce opens one connection with req, checks the 101, sends closeFrame and
// reads until the server's close frame, then closes the socket.
func handshakeOnce(addr string, req, closeFrame, buf []byte) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(req); err != nil {
		return err
	}
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		if n == len(buf) {
			return io.ErrShortBuffer
		}
		m, err := conn.Read(buf[n:])
		if err != nil {
			return err
		}
		n += m
	}
	if !bytes.HasPrefix(buf, []byte("HTTP/1.1 101 ")) {
		return &handshakeError{string(buf[:min(n, 80)])}
	}
	rest := n - (bytes.Index(buf[:n], []byte("\r\n\r\n")) + 4)
	if _, err := conn.Write(closeFrame); err != nil {
		return err
	}
	// The server's close frame: 0x88, length 2, code 1000.
	for rest < 4 {
		m, err := conn.Read(buf[n : n+4])
		if err != nil {
			return err
		}
		n, rest = n+m, rest+m
	}
	return nil
}

type handshakeError struct{ status string }

func (e *handshakeError) Error() string { return "handshake refused: " + e.status }

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
