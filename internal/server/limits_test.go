package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestCloseCodes(t *testing.T) {
	tests := []struct {
		name      string
		limits    string
		exp       time.Duration // token lifetime
		act       func(t *testing.T, c *websocket.Conn)
		wantCode  websocket.StatusCode
		wantDisco float64 // disconnectStatusCode seen by $disconnect
	}{
		{
			name:   "message too big",
			limits: "{MaxMessageBytes: 1024}",
			act: func(t *testing.T, c *websocket.Conn) {
				// The close may race our write; the code is what matters.
				_ = c.Write(context.Background(), websocket.MessageText, []byte(`{"action":"echo","x":"`+strings.Repeat("a", 2000)+`"}`))
			},
			wantCode: websocket.StatusMessageTooBig, wantDisco: 1009,
		},
		{
			name:   "binary frames refused",
			limits: "{}",
			act: func(t *testing.T, c *websocket.Conn) {
				_ = c.Write(context.Background(), websocket.MessageBinary, []byte{1, 2, 3})
			},
			wantCode: websocket.StatusUnsupportedData, wantDisco: 1003,
		},
		{
			name:     "idle timeout",
			limits:   "{IdleTimeout: 300ms}",
			act:      func(t *testing.T, c *websocket.Conn) {},
			wantCode: websocket.StatusGoingAway, wantDisco: 1001,
		},
		{
			name:   "maximum duration, even while active",
			limits: "{MaxConnectionDuration: 600ms, IdleTimeout: 1h}",
			act: func(t *testing.T, c *websocket.Conn) {
				for range 3 {
					write(t, c, `{"action":"echo"}`)
					read(t, c)
				}
			},
			wantCode: websocket.StatusGoingAway, wantDisco: 1001,
		},
		{
			name:     "credential expiry (extension)",
			limits:   "{CloseOnCredentialExpiry: true}",
			exp:      1500 * time.Millisecond,
			act:      func(t *testing.T, c *websocket.Conn) {},
			wantCode: websocket.StatusPolicyViolation, wantDisco: 1008,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := echoBackend(t)
			r := startGateway(t, chatConfig(be.URL, "  Limits: "+tt.limits), Deps{})
			exp := tt.exp
			if exp == 0 {
				exp = time.Hour
			}
			c := mustDial(t, r, loginAs(t, "alice", time.Now().Add(exp)))
			id := be.next(t, "/connect").Header.Get("X-Connection-Id")
			tt.act(t, c)
			if code := readClose(t, c, 5*time.Second); code != tt.wantCode {
				t.Errorf("close code = %d, want %d", code, tt.wantCode)
			}
			got := mustJSON(t, be.next(t, "/disconnect").Body)
			if got["code"] != tt.wantDisco || got["connectionId"] != id {
				t.Errorf("$disconnect = %v, want code %v", got, tt.wantDisco)
			}
		})
	}
}

func TestHandshakeLimits(t *testing.T) {
	be := echoBackend(t)
	t.Run("max connections", func(t *testing.T) {
		r := startGateway(t, chatConfig(be.URL, "  Limits: {MaxConnections: 2}"), Deps{})
		l := loginAs(t, "alice", time.Now().Add(time.Hour))
		mustDial(t, r, l)
		mustDial(t, r, l)
		if _, status, _ := dial(t, r, l); status != http.StatusTooManyRequests {
			t.Errorf("third connection: status %d, want 429", status)
		}
	})
	t.Run("connect rate", func(t *testing.T) {
		r := startGateway(t, chatConfig(be.URL, "  Limits: {ConnectRate: 0.001, ConnectBurst: 2}"), Deps{})
		l := loginAs(t, "alice", time.Now().Add(time.Hour))
		mustDial(t, r, l)
		mustDial(t, r, l)
		if _, status, _ := dial(t, r, l); status != http.StatusTooManyRequests {
			t.Errorf("over the burst: status %d, want 429", status)
		}
	})
	t.Run("url length", func(t *testing.T) {
		r := startGateway(t, chatConfig(be.URL, "  Limits: {MaxURLBytes: 200}"), Deps{})
		l := loginAs(t, "alice", time.Now().Add(time.Hour))
		l.csrf += "&pad=" + strings.Repeat("p", 300)
		if _, status, _ := dial(t, r, l); status != http.StatusRequestURITooLong {
			t.Errorf("long URL: status %d, want 414", status)
		}
	})
	t.Run("not a websocket request", func(t *testing.T) {
		r := startGateway(t, chatConfig(be.URL, ""), Deps{})
		resp, err := http.Get("http://" + r.WebSocket + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Errorf("plain GET: status %d, want 426", resp.StatusCode)
		}
	})
}

func TestGracefulShutdown(t *testing.T) {
	be := echoBackend(t)
	cfg := chatConfig(be.URL, "")
	r := startGatewayManual(t, cfg)
	var conns []*websocket.Conn
	for range 3 {
		conns = append(conns, mustDial(t, r.running, loginAs(t, "alice", time.Now().Add(time.Hour))))
		be.next(t, "/connect")
	}
	r.stop()
	for i, c := range conns {
		if code := readClose(t, c, 5*time.Second); code != websocket.StatusGoingAway {
			t.Errorf("client %d: close code %d, want 1001", i, code)
		}
	}
	// Serve returned only after every $disconnect ran.
	if n := be.count("/disconnect"); n != 3 {
		t.Errorf("$disconnect ran %d times, want 3", n)
	}
	if _, status, _ := dial(t, r.running, loginAs(t, "alice", time.Now().Add(time.Hour))); status != 0 {
		t.Errorf("after shutdown a handshake got status %d", status)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	_, _, _ = dial(t, r, login{origin: "https://ui.dev.example.test"}) // refused: 401
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + r.Management + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, _ := get("/healthz"); st != 200 {
		t.Errorf("/healthz: %d", st)
	}
	if st, _ := get("/readyz"); st != 200 {
		t.Errorf("/readyz: %d", st)
	}
	st, body := get("/metrics")
	for _, want := range []string{
		"wsgate_connections 1",
		`wsgate_connects_total{outcome="accepted"} 1`,
		`wsgate_connects_total{outcome="authorizer_unauthorized"} 1`,
		`wsgate_authorizer_duration_seconds_count{outcome="allow"} 1`,
		`wsgate_integration_duration_seconds_count{outcome="ok",route="$connect"} 1`,
		"go_goroutines",
		`wsgate_node_info{api_id="abc123",clustered="false",node_id="0",stage="dev"} 1`,
	} {
		if st != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// manual is a gateway the test stops itself.
type manual struct {
	*running
	stop func()
}

func startGatewayManual(t *testing.T, yamlCfg string) *manual {
	t.Helper()
	m := &manual{}
	var stop func()
	m.running = startGatewayWithStop(t, yamlCfg, &stop)
	m.stop = stop
	return m
}

// A message integration still running when the drain ends is cancelled: nothing the
// gateway started outlives Serve.
func TestShutdownCancelsSlowIntegrations(t *testing.T) {
	started := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	be := newBackend(t, func(w http.ResponseWriter, c backendCall) {})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // net/http watches for the client going away once the body is read
		started <- struct{}{}
		<-r.Context().Done()
		cancelled <- struct{}{}
	}))
	defer func() { slow.CloseClientConnections(); slow.Close() }()
	// Shutdown waits up to ShutdownTimeout for in-flight integrations, then cancels them.
	cfg := strings.Replace(chatConfig(be.URL, "  Limits: {ShutdownTimeout: 1s}"), be.URL+"/echo", slow.URL+"/slow", 1)
	var stop func()
	r := startGatewayWithStop(t, cfg, &stop)
	c := mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	write(t, c, `{"action":"echo"}`)
	<-started
	stop()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow integration call was not cancelled when the gateway stopped")
	}
}
