package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lxzan/gws"
)

// token is what a logged-in browser sends: the JWT and CSRF-TOKEN cookies and the
// CSRF token again in the query string.
type token struct {
	cookie string
	csrf   string
}

// minter signs tokens for the gateway's cookie authorizer.
type minter struct {
	method jwt.SigningMethod
	key    any
}

// newMinter returns a minter for an HMAC secret (HS256) or, when keyFile is set, a PEM
// private key (EC P-256 → ES256, RSA → RS256, Ed25519 → EdDSA).
func newMinter(secret, keyFile string) (*minter, error) {
	if keyFile == "" {
		return &minter{method: jwt.SigningMethodHS256, key: []byte(secret)}, nil
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", keyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		if ek, err2 := x509.ParseECPrivateKey(blk.Bytes); err2 == nil {
			k = ek
		} else {
			return nil, fmt.Errorf("%s: %w", keyFile, err)
		}
	}
	switch k.(type) {
	case interface{ Public() crypto.PublicKey }:
	default:
		return nil, fmt.Errorf("%s: not a private key", keyFile)
	}
	m := &minter{key: k}
	switch fmt.Sprintf("%T", k) {
	case "*ecdsa.PrivateKey":
		m.method = jwt.SigningMethodES256
	case "*rsa.PrivateKey":
		m.method = jwt.SigningMethodRS256
	case "ed25519.PrivateKey":
		m.method = jwt.SigningMethodEdDSA
	default:
		return nil, fmt.Errorf("%s: unsupported key type %T", keyFile, k)
	}
	return m, nil
}

func (m *minter) mint(sub string) (token, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	csrf := base64.RawURLEncoding.EncodeToString(b[:])
	now := time.Now()
	s, err := jwt.NewWithClaims(m.method, jwt.MapClaims{
		"sub": sub, "iat": now.Unix(), "exp": now.Add(3 * time.Hour).Unix(), "csrf": csrf,
	}).SignedString(m.key)
	if err != nil {
		return token{}, err
	}
	return token{cookie: "JWT=" + s + "; CSRF-TOKEN=" + csrf, csrf: csrf}, nil
}

// mintAll signs n tokens on every core, before any timed phase.
func (m *minter) mintAll(n int) ([]token, error) {
	toks := make([]token, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t, err := m.mint("load-" + strconv.Itoa(i))
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				toks[i] = t
			}
		})
	}
	wg.Wait()
	return toks, firstErr
}

// client is one load connection. It is its own gws event handler.
type client struct {
	l    *loader
	idx  int
	ws   *gws.Conn
	id   atomic.Pointer[string] // the gateway's connection id, learnt with whoami
	idCh chan string
	// slow clients stall in OnMessage (a reader that stopped reading) while
	// loader.stall is set.
	slow   atomic.Bool
	closed atomic.Bool
}

func (c *client) connID() string {
	if p := c.id.Load(); p != nil {
		return *p
	}
	return ""
}

func (c *client) OnOpen(*gws.Conn)              {}
func (c *client) OnPing(ws *gws.Conn, p []byte) { _ = ws.WritePong(p) }
func (c *client) OnPong(*gws.Conn, []byte)      {}
func (c *client) OnClose(_ *gws.Conn, err error) {
	if c.closed.CompareAndSwap(false, true) {
		c.l.closedByPeer.Add(1)
		if f := c.l.onClose.Load(); f != nil {
			(*f)(c)
		}
	}
}

// OnMessage handles whoami answers ({"id":"..."}), timestamped frames ({"t":<unix
// ns>,...}: push deliveries and route responses) and API Gateway's status frames
// ({"message":"Forbidden",...}), which count as errors.
func (c *client) OnMessage(ws *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	now := time.Now()
	l := c.l
	b := msg.Bytes()
	slow := c.slow.Load()
	if slow && l.stall.Load() {
		select {
		case <-l.done:
		case <-time.After(l.stallFor):
		}
		return
	}
	if l.cfg.target == targetCentrifugo { // peers.go
		c.centrifugoFrame(b, now, slow, func() { _ = ws.WriteString("{}") })
		return
	}
	if t, ok := timestamp(b); ok {
		l.received.Add(1)
		if !slow {
			l.delivered(c.idx, now, t, b)
		}
		return
	}
	if id, ok := whoamiID(b); ok {
		c.id.Store(&id)
		select {
		case c.idCh <- id:
		default:
		}
		return
	}
	l.badFrames.Add(1)
	l.noteError("frame: " + truncate(string(b), 120))
}

// delivered records the latency of a timestamped frame b received at now: from its
// scheduled time t, and from its send time ("s") when it has one and fromSend is on.
func (l *loader) delivered(idx int, now time.Time, t int64, b []byte) {
	l.lat.Load().add(idx, now.Sub(time.Unix(0, t)))
	if fs := l.fromSend.Load(); fs != nil {
		if s, ok := stamp(b, 's'); ok {
			fs.add(idx, now.Sub(time.Unix(0, s)))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// timestamp finds "t":<digits> in a frame.
func timestamp(b []byte) (int64, bool) { return stamp(b, 't') }

// stamp finds "<key>":<digits> in a frame.
func stamp(b []byte, key byte) (int64, bool) {
	for i := 0; i+4 < len(b); i++ {
		if b[i] == '"' && b[i+1] == key && b[i+2] == '"' && b[i+3] == ':' {
			var v int64
			j := i + 4
			for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
				v = v*10 + int64(b[j]-'0')
			}
			return v, j > i+4
		}
	}
	return 0, false
}

// whoamiID reads {"id":"..."}.
func whoamiID(b []byte) (string, bool) {
	const p = `{"id":"`
	if len(b) < len(p)+2 || string(b[:len(p)]) != p {
		return "", false
	}
	rest := b[len(p):]
	for i, ch := range rest {
		if ch == '"' {
			return string(rest[:i]), i > 0
		}
	}
	return "", false
}

// dialErr is a failed handshake: the HTTP status when the gateway answered.
type dialErr struct {
	status int
	err    error
}

func (e *dialErr) Error() string {
	if e.status != 0 {
		return fmt.Sprintf("handshake status %d", e.status)
	}
	return e.err.Error()
}

func (e *dialErr) Unwrap() error { return e.err }

// dial opens connection idx with tok, from source address 127.0.0.(1 + idx % srcIPs).
func (l *loader) dial(idx int, tok token) (*client, error) {
	c := &client{l: l, idx: idx, idCh: make(chan string, 1)}
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+idx%l.cfg.srcIPs))}
	sep := "?"
	if containsByte(l.cfg.wsURL, '?') {
		sep = "&"
	}
	h := http.Header{}
	if l.cfg.auth {
		h.Set("Cookie", tok.cookie)
	}
	addr := l.cfg.wsURL
	if l.cfg.auth {
		addr += sep + "csrf=" + tok.csrf
	}
	ws, resp, err := gws.NewClient(c, &gws.ClientOption{
		Addr:               addr,
		RequestHeader:      h,
		HandshakeTimeout:   15 * time.Second,
		ReadMaxPayloadSize: 1 << 20,
		NewDialer: func() (gws.Dialer, error) {
			return &net.Dialer{Timeout: 15 * time.Second, LocalAddr: src, Control: bindNoPort}, nil
		},
		NewSession: func() gws.SessionStorage { return noSession{} },
	})
	if err != nil {
		de := &dialErr{err: err}
		if resp != nil {
			de.status = resp.StatusCode
			if resp.StatusCode == http.StatusSwitchingProtocols {
				de.status = 0
			}
		}
		return nil, de
	}
	c.ws = ws
	go ws.ReadLoop()
	if err := l.hello(c, tok); err != nil { // peers.go
		c.closed.Store(true) // a failed handshake, not a close by the peer
		_ = ws.NetConn().Close()
		return nil, &dialErr{err: err}
	}
	return c, nil
}

func containsByte(s string, b byte) bool {
	for i := range len(s) {
		if s[i] == b {
			return true
		}
	}
	return false
}

// whoami asks the gateway for the connection's id (a route answered with
// {"id":"$context.connectionId"}).
func (c *client) whoami(timeout time.Duration) (string, error) {
	if id := c.connID(); id != "" { // known from the protocol's own handshake (peers.go)
		return id, nil
	}
	if err := c.ws.WriteString(`{"action":"whoami"}`); err != nil {
		return "", err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case id := <-c.idCh:
		return id, nil
	case <-t.C:
		return "", errors.New("whoami: no answer")
	}
}

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT: with a source address set,
// the port is chosen at connect time for the whole 4-tuple, so each source address
// has its own ephemeral port range per destination and ports in TIME_WAIT are reused.
const ipBindAddressNoPort = 24

func bindNoPort(_, _ string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
}

// noSession keeps no per-connection map in the client.
type noSession struct{}

func (noSession) Len() int                     { return 0 }
func (noSession) Load(string) (any, bool)      { return nil, false }
func (noSession) Delete(string)                {}
func (noSession) Store(string, any)            {}
func (noSession) Range(func(string, any) bool) {}

// connectAll dials len(toks) connections with conc handshakes in flight, until ctx
// ends. It returns the clients (nil where a dial failed), the handshake latencies and
// the failures by kind.
func (l *loader) connectAll(ctx context.Context, toks []token, conc, offset int) ([]*client, *recorder, map[string]int) {
	clients := make([]*client, len(toks))
	rec := &recorder{}
	var mu sync.Mutex
	fails := map[string]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(toks) {
					return
				}
				t0 := time.Now()
				c, err := l.dial(offset+i, toks[i])
				if err != nil {
					kind := err.Error()
					if de, ok := err.(*dialErr); ok && de.status == 0 {
						kind = "dial: " + truncate(de.err.Error(), 80)
					}
					mu.Lock()
					fails[kind]++
					mu.Unlock()
					continue
				}
				rec.add(i, time.Since(t0))
				clients[i] = c
			}
		})
	}
	wg.Wait()
	return clients, rec, fails
}

// closeAll closes every client with 1000, conc at a time.
func closeAll(clients []*client) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range clients {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.closed.Store(true)
			_ = c.ws.SetDeadline(time.Now().Add(2 * time.Second))
			_ = c.ws.WriteClose(1000, nil)
			_ = c.ws.NetConn().Close()
		})
	}
	wg.Wait()
}
