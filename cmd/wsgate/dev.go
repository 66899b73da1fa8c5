package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/wsgate/wsgate/examples/chat"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/devcert"
	"github.com/wsgate/wsgate/internal/server"
)

// devOptions configure runDev.
type devOptions struct {
	// Env names the environment: the hosts are ui.{Env}.example.test and
	// ws.{Env}.example.test, the cookies' Domain {Env}.example.test.
	Env string
	// UIPort and WSPort are the page's and the gateway's loopback ports; 0 picks one.
	UIPort, WSPort int
	// Dir keeps the local CA (ca.pem, ca-key.pem) across runs, so that it can be trusted
	// once; the leaf certificate is made fresh on every run.
	Dir string
	// TokenTTL is the JWT's lifetime.
	TokenTTL time.Duration
	// Logger logs the gateway and the backend.
	Logger *slog.Logger
}

// devInfo describes a running `wsgate dev`.
type devInfo struct {
	UIURL, WSURL, UIOrigin string
	UIHost, WSHost, Domain string
	// UIAddr, WSAddr and ManagementAddr are the loopback listeners.
	UIAddr, WSAddr, ManagementAddr string
	CAFile                         string
	CAPool                         *x509.CertPool
	// Chat is the running reference backend.
	Chat *chat.Server
	// HostileAddr serves the attack panel's hostile page (any host name: the sibling
	// evil.{Domain} and the cross-site localhost).
	HostileAddr string
	// StopGateway stops the gateway alone (sockets close with 1001, the page and backend
	// keep running); StartGateway starts it again on the same ports.
	StopGateway, StartGateway func() error
}

// dev runs the whole system on loopback: the gateway with the built-in cookie authorizer
// (a fresh HMAC key), TLS from a local CA, @connections with a fresh SigV4 key, and the
// reference chat backend and page.
func dev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev") // help.go: --help, usage errors
	o := devOptions{}
	fs.StringVar(&o.Env, "env", "dev", "environment `name`: hosts ui.NAME.example.test and ws.NAME.example.test")
	fs.IntVar(&o.UIPort, "ui-port", 8443, "HTTPS `port` of the page and backend on 127.0.0.1 (0 picks one)")
	fs.IntVar(&o.WSPort, "ws-port", 8444, "WSS `port` of the gateway on 127.0.0.1 (0 picks one)")
	fs.StringVar(&o.Dir, "dir", "", "`directory` keeping the local CA (default: $XDG_CACHE_HOME/wsgate/dev or ~/.cache/wsgate/dev)")
	fs.DurationVar(&o.TokenTTL, "token-ttl", 15*time.Minute, "lifetime of the login JWT; sockets close (1008) when it expires")
	lf := addLogFlags(fs) // logging.go: --log-format, --log-level
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	var err error
	if o.Logger, err = lf.logger("dev", stderr); err != nil {
		return err
	}
	if o.Dir == "" {
		o.Dir = defaultDevDir(getenv)
	}
	return runDev(ctx, o, func(d devInfo) { printDev(stdout, d) })
}

func defaultDevDir(getenv func(string) string) string {
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "wsgate", "dev")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "wsgate", "dev")
	}
	return filepath.Join(os.TempDir(), "wsgate-dev")
}

func printDev(w io.Writer, d devInfo) {
	evil := "evil." + d.Domain
	fmt.Fprintf(w, `wsgate dev: the gateway, the cookie authorizer and the reference chat run on loopback.

  page        %s   (log in as alice or bob, password "demo")
  websocket   %s
  @connections http://%s/dev/@connections (SigV4, key generated for this run)
  local CA    %s
  attack panel's hostile pages  https://%s:%d/ (same site) and https://localhost:%d/ (cross-site)

The hosts must resolve to 127.0.0.1. Either start a throwaway Chromium profile that maps them:

  chromium --user-data-dir="$(mktemp -d)" --ignore-certificate-errors \
    --host-resolver-rules="MAP %s 127.0.0.1, MAP %s 127.0.0.1, MAP %s 127.0.0.1" %s

or add this line to /etc/hosts and trust the CA in your browser (Chromium on Linux:
certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n wsgate-dev -i %s):

  127.0.0.1 %s %s %s

Open the page in two profiles (or one normal, one incognito window) to chat as two users.
The page's "try an attack" panel and its /dev/ endpoints exist in wsgate dev only.
Ctrl-C stops everything.
`, d.UIURL, d.WSURL, d.ManagementAddr, d.CAFile, evil, mustPort(d.HostileAddr), mustPort(d.HostileAddr),
		d.UIHost, d.WSHost, evil, d.UIURL, d.CAFile, d.UIHost, d.WSHost, evil)
}

// runDev runs until ctx ends; ready is called once everything accepts connections.
func runDev(ctx context.Context, o devOptions, ready func(devInfo)) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Env == "" {
		o.Env = "dev"
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 15 * time.Minute
	}
	domain := o.Env + ".example.test"
	uiHost, wsHost := "ui."+domain, "ws."+domain

	ca, caFile, err := devcert.LoadOrCreate(o.Dir)
	if err != nil {
		return fmt.Errorf("dev: local CA: %w", err)
	}
	// evil.{domain} and localhost are the attack panel's hostile origins.
	leafCert, leafKey, err := ca.Leaf(uiHost, wsHost, "evil."+domain, "localhost")
	if err != nil {
		return fmt.Errorf("dev: certificate: %w", err)
	}
	runDir, err := os.MkdirTemp("", "wsgate-dev-")
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer os.RemoveAll(runDir)
	certFile, keyFile := filepath.Join(runDir, "leaf.pem"), filepath.Join(runDir, "leaf-key.pem")
	if err := os.WriteFile(certFile, leafCert, 0o600); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	if err := os.WriteFile(keyFile, leafKey, 0o600); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	pair, err := tls.X509KeyPair(leafCert, leafKey)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}

	// Listeners first: the gateway's AllowedOrigins needs the page's port.
	uiLn, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.UIPort)))
	if err != nil {
		return fmt.Errorf("dev: --ui-port: %w", err)
	}
	defer uiLn.Close()
	inLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("dev: integration listener: %w", err)
	}
	defer inLn.Close()
	hostileLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("dev: hostile page listener: %w", err)
	}
	defer hostileLn.Close()
	hostilePort := hostileLn.Addr().(*net.TCPAddr).Port
	uiOrigin := "https://" + hostPort(uiHost, uiLn.Addr().(*net.TCPAddr).Port)

	secrets := map[string]string{
		"WSGATE_DEV_JWT_KEY":     randomString(32),
		"WSGATE_DEV_MGMT_SECRET": randomString(30),
	}
	integrationSecret := randomString(24)
	const mgmtKeyID = "AKIAWSGATEDEV0000001"
	cfg := devConfig(o, domain, uiOrigin, "http://"+inLn.Addr().String(), integrationSecret, certFile, keyFile, mgmtKeyID)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("dev: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The gateway's refusals are kept for the page's dev-only /dev/refusals.
	refusals := chat.NewRefusalLog(50)
	gw := &devGateway{parent: ctx, cfg: cfg, failed: make(chan error, 1), deps: server.Deps{
		Getenv: func(name string) string { return secrets[name] },
		Logger: slog.New(refusals.Handler(o.Logger.Handler())).With("component", "gateway"),
	}}
	addrs, err := gw.start()
	if err != nil {
		return fmt.Errorf("dev: gateway: %w", err)
	}
	defer gw.stop()
	wsPort := mustPort(addrs.WebSocket)

	mgmtClient := apigatewaymanagementapi.NewFromConfig(aws.Config{
		Region:      cfg.Server.Region,
		Credentials: credentials.NewStaticCredentialsProvider(mgmtKeyID, secrets["WSGATE_DEV_MGMT_SECRET"], ""),
	}, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String("http://" + addrs.Management + "/" + cfg.Stage.StageName)
	})
	wsURL := "wss://" + hostPort(wsHost, wsPort) + "/"
	pool := ca.Pool()
	// The forged-cookie attempt's client: it trusts the local CA and dials the gateway's
	// listener whatever the ws host resolves to here.
	handshakeClient := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addrs.WebSocket)
		},
	}}
	defer handshakeClient.CloseIdleConnections()
	evilHost := "evil." + domain
	app, err := chat.New(chat.Options{
		Domain: domain, UIOrigin: uiOrigin, WebSocketURL: wsURL,
		Key: []byte(secrets["WSGATE_DEV_JWT_KEY"]), Connections: mgmtClient,
		IntegrationSecret: integrationSecret, TokenTTL: o.TokenTTL,
		Logger:          o.Logger.With("component", "chat"),
		GatewayReadyURL: "http://" + addrs.Management + "/readyz",
		Dev: &chat.DevOptions{Refusals: refusals, HandshakeClient: handshakeClient, HostilePages: []chat.HostilePage{
			{Name: "sibling", URL: "https://" + hostPort(evilHost, hostilePort) + "/", Origin: "https://" + hostPort(evilHost, hostilePort)},
			{Name: "cross-site", URL: "https://" + hostPort("localhost", hostilePort) + "/", Origin: "https://" + hostPort("localhost", hostilePort)},
		}},
	})
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	errLog := slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)
	// One tls.Config per server: ServeTLS configures HTTP/2 in the one it is given.
	tlsConfig := func() *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	uiSrv := &http.Server{Handler: app.Public(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog, TLSConfig: tlsConfig()}
	inSrv := &http.Server{Handler: app.Integration(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	hostileSrv := &http.Server{Handler: chat.HostileHandler(uiOrigin), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog, TLSConfig: tlsConfig()}
	srvErr := make(chan error, 3)
	go func() { srvErr <- uiSrv.ServeTLS(uiLn, "", "") }()
	go func() { srvErr <- inSrv.Serve(inLn) }()
	go func() { srvErr <- hostileSrv.ServeTLS(hostileLn, "", "") }()

	if ready != nil {
		ready(devInfo{
			UIURL: uiOrigin + "/", WSURL: wsURL, UIOrigin: uiOrigin,
			UIHost: uiHost, WSHost: wsHost, Domain: domain,
			UIAddr: uiLn.Addr().String(), WSAddr: addrs.WebSocket, ManagementAddr: addrs.Management,
			CAFile: caFile, CAPool: pool, Chat: app, HostileAddr: hostileLn.Addr().String(),
			StopGateway:  gw.stop,
			StartGateway: func() error { _, err := gw.start(); return err },
		})
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		runErr = err
	case err := <-gw.failed:
		runErr = fmt.Errorf("gateway stopped: %v", err)
	}
	cancel()
	// The gateway closes its sockets first: their $disconnect calls reach the backend.
	gwErr := gw.stop()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = uiSrv.Shutdown(sctx)
	_ = inSrv.Shutdown(sctx)
	_ = hostileSrv.Shutdown(sctx)
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
		return fmt.Errorf("dev: %w", runErr)
	}
	if gwErr != nil {
		return fmt.Errorf("dev: gateway: %w", gwErr)
	}
	return nil
}

// devGateway is the gateway of `wsgate dev`, which can be stopped and started again on
// the same ports while the page and backend keep running (the browser tests stop it to
// see the page report "gateway unreachable" and reconnect).
type devGateway struct {
	parent context.Context
	cfg    *config.Config
	deps   server.Deps
	// failed receives the error of a run that ended without stop.
	failed chan error

	mu     sync.Mutex
	listen [2]string // the first run's WebSocket and management addresses
	run    *devGatewayRun
}

type devGatewayRun struct {
	cancel   context.CancelFunc
	stopping atomic.Bool
	exited   chan struct{}
	err      error
}

// start runs the gateway and returns once it listens.
func (g *devGateway) start() (server.Addrs, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.run != nil {
		return server.Addrs{}, errors.New("the gateway is running")
	}
	cfg := *g.cfg
	if g.listen[0] != "" {
		cfg.Server.Listen, cfg.Server.ManagementListen = g.listen[0], g.listen[1]
	}
	ctx, cancel := context.WithCancel(g.parent)
	ready := make(chan server.Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, &cfg, g.deps, func(a server.Addrs) { ready <- a }) }()
	var addrs server.Addrs
	select {
	case addrs = <-ready:
	case err := <-done:
		cancel()
		return server.Addrs{}, err
	}
	run := &devGatewayRun{cancel: cancel, exited: make(chan struct{})}
	go func() {
		run.err = <-done
		close(run.exited)
		if !run.stopping.Load() {
			select {
			case g.failed <- run.err:
			default:
			}
		}
	}()
	g.run = run
	g.listen = [2]string{addrs.WebSocket, addrs.Management}
	return addrs, nil
}

// stop shuts the running gateway down (1001 to every socket, $disconnect for each) and
// waits for it; it does nothing when none runs.
func (g *devGateway) stop() error {
	g.mu.Lock()
	run := g.run
	g.run = nil
	g.mu.Unlock()
	if run == nil {
		return nil
	}
	run.stopping.Store(true)
	run.cancel()
	<-run.exited
	return run.err
}

// devConfig is the gateway configuration of `wsgate dev`: the chat's routes on HTTP
// integrations, the built-in cookie authorizer on $connect with its CSRF token bound to
// the JWT (CsrfClaim), so that no cookie a sibling host plants can refuse the page.
func devConfig(o devOptions, domain, uiOrigin, backend, integrationSecret, certFile, keyFile, mgmtKeyID string) *config.Config {
	ids := map[string]string{
		"integration.request.header.X-Connection-Id":                 "context.connectionId",
		"integration.request.header.X-Principal":                     "context.authorizer.principalId",
		"integration.request.header." + chat.IntegrationSecretHeader: "'" + integrationSecret + "'",
	}
	// $connect also sees the offered subprotocols, to select the page's (only the
	// handshake has headers).
	connectParams := maps.Clone(ids)
	connectParams["integration.request.header."+chat.SubprotocolHeader] = "route.request.header.Sec-WebSocket-Protocol"
	cfg := &config.Config{
		API:   config.API{Name: "wsgate-dev-chat", RouteSelectionExpression: "$request.body.action"},
		Stage: config.Stage{StageName: "dev"},
		Authorizers: map[string]config.Authorizer{"cookie": {
			// Cached (the cache keys on every input the decision reads), with the
			// identity sources a cached cookie authorizer lists: both CSRF transports
			// pass.
			IdentitySource:               []string{"route.request.header.Cookie", "route.request.header.Origin"},
			AuthorizerResultTTLInSeconds: 60,
			Cookie: &config.CookieAuthorizer{
				JWTCookie: chat.JWTCookie, CSRFCookie: chat.CSRFCookie, CSRFQueryParam: "csrf",
				CSRFClaim: chat.CSRFClaim, Algorithms: []string{"HS256"},
				AllowedOrigins: []string{uiOrigin},
				ContextClaims:  []string{"name"},
				Key:            config.KeySource{HMACSecretEnv: "WSGATE_DEV_JWT_KEY"},
			},
		}},
		Integrations: map[string]config.Integration{
			"connect":    {IntegrationType: config.IntegrationHTTP, IntegrationURI: backend + "/connect", RequestParameters: connectParams, TimeoutInMillis: 5000},
			"disconnect": {IntegrationType: config.IntegrationHTTP, IntegrationURI: backend + "/disconnect", RequestParameters: ids, TimeoutInMillis: 5000},
			"message":    {IntegrationType: config.IntegrationHTTP, IntegrationURI: backend + "/message", RequestParameters: ids, TimeoutInMillis: 5000},
			"unknown": {IntegrationType: config.IntegrationMock,
				ResponseTemplate: `{"type":"error","text":"unknown action: send {\"action\":\"send\",\"text\":\"...\"}"}`},
		},
		Routes: map[string]config.Route{
			config.RouteConnect:    {AuthorizationType: "CUSTOM", AuthorizerID: "cookie", Target: "integrations/connect"},
			config.RouteDisconnect: {Target: "integrations/disconnect"},
			"send":                 {Target: "integrations/message"},
			"who":                  {Target: "integrations/message"},
			config.RouteDefault:    {Target: "integrations/unknown", RouteResponseSelectionExpression: "$default"},
		},
		Server: config.Server{
			Listen:           net.JoinHostPort("127.0.0.1", strconv.Itoa(o.WSPort)),
			ManagementListen: "127.0.0.1:0",
			TLS:              &config.TLS{CertFile: certFile, KeyFile: keyFile},
			DomainName:       "ws." + domain,
			Management: config.Management{Credentials: []config.Credential{
				{AccessKeyID: mgmtKeyID, SecretAccessKeyEnv: "WSGATE_DEV_MGMT_SECRET"},
			}},
			Limits: config.Limits{CloseOnCredentialExpiry: true, ShutdownTimeout: config.Duration(5 * time.Second)},
		},
	}
	cfg.SetDefaults()
	return cfg
}

func hostPort(host string, port int) string {
	if port == 443 {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func mustPort(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
