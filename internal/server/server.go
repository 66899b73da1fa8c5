// Package server runs wsgate: it builds the gateway from a config and wires it to the
// outside world — the WebSocket and management listeners (TLS), the operations routes
// (routes.go), the @connections API, the cluster's NATS connection, the AWS Lambda
// client — and orders start-up and shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/cluster/natscluster"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/gateway"
	"github.com/wsgate/wsgate/internal/mgmt"
)

// Addrs are the addresses a running server listens on.
type Addrs struct {
	// WebSocket is the handshake listener (ws:// or wss://).
	WebSocket string
	// Management serves /{stage}/@connections, /healthz, /readyz and /metrics.
	Management string
	// TLS says whether WebSocket is wss.
	TLS bool
	// NATS is the embedded NATS server's client URL (Server.Cluster.Embedded), else "".
	NATS string
}

// Serve runs the gateway cfg describes until ctx ends, then shuts down gracefully:
// readiness goes false, no new handshakes, every client is closed with 1001 and its
// $disconnect runs, within Limits.ShutdownTimeout. ready, if not nil, is called once
// both listeners accept.
func Serve(ctx context.Context, cfg *config.Config, deps Deps, ready func(Addrs)) error {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Getenv == nil {
		return errors.New("server: Serve needs Getenv")
	}
	log := deps.Logger
	if deps.Lambda == nil && needsLambda(cfg) {
		lc, err := newLambdaClient(ctx, cfg.Server.Lambda)
		if err != nil {
			return err
		}
		deps.Lambda = lc
	}
	if len(cfg.Functions) > 0 { // local Lambda functions (functions.go)
		rt, err := startFunctions(cfg, deps)
		if err != nil {
			return err
		}
		// Deferred first, so it runs last: after the gateway has drained.
		defer closeFunctions(rt, log)
		deps.Lambda = rt
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wsgate_node_info", Help: "This gateway node (always 1), labelled with its node id, API and stage.",
			ConstLabels: prometheus.Labels{"node_id": fmt.Sprint(cfg.Server.NodeID), "api_id": cfg.API.APIID, "stage": cfg.Stage.StageName,
				"clustered": fmt.Sprint(cfg.Server.Cluster != nil)},
		}, func() float64 { return 1 }))
	if deps.Metrics == nil {
		deps.Metrics = gateway.NewMetrics(reg)
	}
	var addrs Addrs
	if cfg.Server.Cluster != nil && deps.Registry == nil {
		reg, url, stop, err := startCluster(cfg, log, deps.Metrics.CountPanic)
		if err != nil {
			return err
		}
		defer stop()
		deps.Registry, addrs.NATS = reg, url
	}
	if deps.Registry == nil {
		// Made here rather than by the gateway: both @connections handlers serve from it.
		deps.Registry = cluster.NewLocal(cfg.Server.Limits.MaxMessageBytes)
	}
	mh, public, err := connectionsAPI(cfg, deps)
	if err != nil {
		return err
	}
	deps.Connections = public
	if deps.AccessLog == nil && cfg.Stage.AccessLogSettings != nil { // accesslog.go
		al, err := openAccessLog(cfg, deps.AccessLogStdout)
		if err != nil {
			return err
		}
		defer al.Close()
		deps.AccessLog = al
	}
	g, err := Build(ctx, cfg, deps)
	if err != nil {
		return err
	}

	var readyFlag atomic.Bool
	if mh != nil {
		mh = g.RecoverHTTP("an @connections request", mh)
	}
	ops := routes(reg, &readyFlag, mh)

	errLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	const maxHeaderBytes = 64 << 10
	wsSrv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: cfg.Server.Limits.HandshakeTimeout.D(),
		MaxHeaderBytes:    maxHeaderBytes,
		ConnContext:       headConnContext,
		IdleTimeout:       cfg.Server.Limits.HandshakeTimeout.D(),
		ErrorLog:          errLog,
		// WebSockets upgrade HTTP/1.1 connections: never negotiate h2.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	mSrv, err := mgmt.NewHTTPServer(ops, managementLimits(cfg.Server.Management), errLog)
	if err != nil {
		_ = g.Shutdown(ctx)
		return fmt.Errorf("Server.Management: %w", err)
	}

	wsLn, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		_ = g.Shutdown(ctx)
		return fmt.Errorf("Server.Listen: %w", err)
	}
	mLn, err := net.Listen("tcp", cfg.Server.ManagementListen)
	if err != nil {
		wsLn.Close()
		_ = g.Shutdown(ctx)
		return fmt.Errorf("Server.ManagementListen: %w", err)
	}
	if t := cfg.Server.TLS; t != nil {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			wsLn.Close()
			mLn.Close()
			_ = g.Shutdown(ctx)
			return fmt.Errorf("Server.TLS: %w", err)
		}
		wsLn = tls.NewListener(wsLn, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	}
	// The header names as sent on the wire, for the events (net/http's limit is
	// MaxHeaderBytes plus its 4096-byte read buffer). Above TLS, so it reads plaintext;
	// net/http then no longer sees a *tls.Conn, so r.TLS is nil (nothing reads it).
	wsLn = headListener{Listener: wsLn, max: maxHeaderBytes + 4096}
	serveErr := make(chan error, 2)
	go func() { serveErr <- wsSrv.Serve(wsLn) }()
	go func() { serveErr <- mSrv.Serve(mLn) }()
	addrs.WebSocket, addrs.Management, addrs.TLS = wsLn.Addr().String(), mLn.Addr().String(), cfg.Server.TLS != nil
	readyFlag.Store(true)
	log.Info("listening", "websocket", addrs.WebSocket, "management", addrs.Management, "tls", addrs.TLS, "stage", cfg.Stage.StageName,
		"connectionsOnWebSocketListener", public != nil)
	if ready != nil {
		ready(addrs)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = err
	}
	readyFlag.Store(false)
	log.Info("shutting down", "connections", g.Open())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.Limits.ShutdownTimeout.D())
	defer cancel()
	_ = wsSrv.Shutdown(sctx)
	if err := g.Shutdown(sctx); err != nil {
		log.Warn("shutdown incomplete", "error", err.Error())
	}
	_ = mSrv.Shutdown(sctx)
	log.Info("stopped")
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
		return runErr
	}
	return nil
}

// connectionsAPI builds the @connections API twice: mh for the management listener,
// as Server.Management says, and public for the WebSocket listener, which requires
// SigV4 whatever AllowUnsigned says (that listener faces the clients) and is bounded by
// the management listener's ReadTimeout and WriteTimeout. Either is nil when it is off:
// mh without credentials and without AllowUnsigned, public without credentials or with
// DisableOnWebSocketListener.
func connectionsAPI(cfg *config.Config, deps Deps) (mh, public http.Handler, err error) {
	m := cfg.Server.Management
	log := deps.Logger
	creds := make([]mgmt.Credential, 0, len(m.Credentials))
	for i, c := range m.Credentials {
		secret := deps.Getenv(c.SecretAccessKeyEnv)
		if secret == "" {
			return nil, nil, fmt.Errorf("Server.Management.Credentials[%d].SecretAccessKeyEnv: the environment variable %s is empty", i, c.SecretAccessKeyEnv)
		}
		creds = append(creds, mgmt.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: secret})
	}
	o := mgmt.Options{
		Connections:   deps.Registry,
		Stage:         cfg.Stage.StageName,
		Region:        cfg.Server.Region,
		Credentials:   creds,
		AllowUnsigned: m.AllowUnsigned,
		MaxPayload:    cfg.Server.Limits.MaxMessageBytes,
		Logger:        log,
	}
	if len(creds) == 0 && !m.AllowUnsigned {
		log.Warn("no Server.Management.Credentials and AllowUnsigned is false: the @connections API is off")
		return nil, nil, nil
	}
	if mh, err = mgmt.New(o); err != nil {
		return nil, nil, fmt.Errorf("Server.Management: %w", err)
	}
	if len(creds) == 0 {
		log.Warn("@connections accepts unsigned requests (Server.Management.AllowUnsigned): development only; " +
			"it is not served on the WebSocket listener, which requires SigV4")
		return mh, nil, nil
	}
	if m.DisableOnWebSocketListener {
		return mh, nil, nil
	}
	o.AllowUnsigned = false
	h, err := mgmt.New(o)
	if err != nil {
		return nil, nil, fmt.Errorf("Server.Management: %w", err)
	}
	if public, err = mgmt.Bounded(h, managementLimits(m)); err != nil {
		return nil, nil, fmt.Errorf("Server.Management: %w", err)
	}
	return mh, public, nil
}

// managementLimits are the management listener's limits on one client, from m.
func managementLimits(m config.Management) mgmt.Limits {
	return mgmt.Limits{
		ReadHeaderTimeout: m.ReadHeaderTimeout.D(), ReadTimeout: m.ReadTimeout.D(), WriteTimeout: m.WriteTimeout.D(),
		IdleTimeout: m.IdleTimeout.D(), MaxHeaderBytes: m.MaxHeaderBytes,
	}
}

// startCluster connects this node to the cluster's NATS (starting the embedded server
// first if configured) and returns its registry, the embedded server's URL, and how to
// stop them (after the gateway has shut down).
func startCluster(cfg *config.Config, log *slog.Logger, onPanic func()) (cluster.Registry, string, func(), error) {
	cl := cfg.Server.Cluster
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	url, embeddedURL := cl.NatsURL, ""
	if e := cl.Embedded; e != nil {
		s, err := natscluster.StartEmbedded(natscluster.EmbeddedOptions{
			Listen: e.Listen, ClusterName: e.ClusterName, ClusterListen: e.ClusterListen, Routes: e.Routes,
			MaxPayload: int32(max(1<<20, 2*cfg.Server.Limits.MaxMessageBytes)), Logger: log.With("component", "nats"),
		})
		if err != nil {
			return nil, "", nil, fmt.Errorf("Server.Cluster.Embedded: %w", err)
		}
		stops = append(stops, func() { s.Shutdown(); s.WaitForShutdown() })
		url, embeddedURL = s.ClientURL(), s.ClientURL()
	}
	opts := []nats.Option{
		nats.Name(fmt.Sprintf("wsgate %s/%s node %d", cfg.API.APIID, cfg.Stage.StageName, cfg.Server.NodeID)),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("cluster: NATS disconnected", "error", fmt.Sprint(err)) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("cluster: NATS reconnected", "server", nc.ConnectedUrlRedacted()) }),
	}
	if cl.CredentialsFile != "" {
		opts = append(opts, nats.UserCredentials(cl.CredentialsFile))
	}
	if cl.CAFile != "" {
		opts = append(opts, nats.RootCAs(cl.CAFile))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		stop()
		return nil, "", nil, fmt.Errorf("Server.Cluster: connecting to NATS: %w", err)
	}
	stops = append(stops, nc.Close)
	reg, err := natscluster.NewNATS(natscluster.NATSOptions{
		Conn: nc, NodeID: byte(cfg.Server.NodeID), NodeOf: cluster.NodeOf, Subject: cl.Subject,
		Timeout: cl.RequestTimeout.D(), MaxPayload: cfg.Server.Limits.MaxMessageBytes, Logger: log.With("component", "cluster"), OnPanic: onPanic,
	})
	if err != nil {
		stop()
		return nil, "", nil, fmt.Errorf("Server.Cluster: %w", err)
	}
	stops = append(stops, func() { _ = reg.Close() })
	log.Info("cluster: joined", "node", cfg.Server.NodeID, "subject", cl.Subject, "nats", nc.ConnectedUrlRedacted())
	return reg, embeddedURL, stop, nil
}

func needsLambda(cfg *config.Config) bool {
	for _, in := range cfg.Integrations {
		if in.IntegrationType == config.IntegrationAWSProxy {
			return true
		}
	}
	for _, a := range cfg.Authorizers {
		if a.AuthorizerURI != "" && a.Kind() == config.AuthorizerLambda {
			return true
		}
	}
	return false
}

// newLambdaClient is the AWS SDK's Lambda client with the default credential chain,
// pointed at Server.Lambda.Endpoint when set (a local emulator).
func newLambdaClient(ctx context.Context, lc config.LambdaClient) (*lambda.Client, error) {
	ac, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(lc.Region))
	if err != nil {
		return nil, fmt.Errorf("Server.Lambda: %w", err)
	}
	return lambda.NewFromConfig(ac, func(o *lambda.Options) {
		if lc.Endpoint != "" {
			o.BaseEndpoint = aws.String(lc.Endpoint)
		}
	}), nil
}
