package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
)

// serve runs the gateway until ctx ends.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration `file` (YAML); default: the embedded default (a cookie-authenticated echo API with the development key)")
	check := fs.Bool("check-config", false, "validate the configuration, build the gateway from it, and exit")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	tmpl := fs.String("template", "", "run the API a CloudFormation `template` defines (AWS::ApiGatewayV2::*), instead of --config")
	overrides := fs.String("overrides", "", "with --template: a YAML `file` in --config's format whose Server section and local endpoints override the template's")
	listen := fs.String("listen", "", "override Server.Listen (host:port; port 0 picks one)")
	mgmtListen := fs.String("management-listen", "", "override Server.ManagementListen (host:port; port 0 picks one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("serve: --log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	var cfg *config.Config
	var err error
	source := "embedded default"
	switch {
	case *tmpl != "" && *path != "":
		return fmt.Errorf("serve: --config and --template are exclusive")
	case *tmpl != "":
		cfg, err = config.LoadTemplate(*tmpl, *overrides)
		source = *tmpl
	case *overrides != "":
		return fmt.Errorf("serve: --overrides needs --template")
	case *path != "":
		cfg, err = config.Load(*path)
		source = *path
	default:
		cfg, err = config.Parse(config.Default)
	}
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	if *mgmtListen != "" {
		cfg.Server.ManagementListen = *mgmtListen
	}
	deps := server.Deps{Getenv: getenv, Logger: logger, AccessLogStdout: stdout}
	if *check {
		g, err := server.Build(ctx, cfg, deps)
		if err != nil {
			return err
		}
		_ = g.Shutdown(ctx)
		fmt.Fprintf(stdout, "wsgate: configuration %s is valid\n", source)
		return nil
	}
	return server.Serve(ctx, cfg, deps, func(a server.Addrs) {
		scheme := "ws"
		if a.TLS {
			scheme = "wss"
		}
		fmt.Fprintf(stdout, "wsgate: serving %s (%s) on %s://%s/ ; @connections on http://%s/%s/@connections\n",
			cfg.API.Name, source, scheme, a.WebSocket, a.Management, cfg.Stage.StageName)
	})
}

// token mints a JWT and CSRF token for the development key, for trying the default
// configuration with any WebSocket client.
func token(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "dev-user", "the principal (sub claim)")
	ttl := fs.Duration("ttl", 15*time.Minute, "token lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	csrf := base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": *sub, "iat": now.Unix(), "exp": now.Add(*ttl).Unix(), "csrf": csrf,
	}).SignedString([]byte(config.DevHMACSecret))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Cookie: JWT=%s; CSRF-TOKEN=%s\nquery: ?csrf=%s\n", tok, csrf, csrf)
	fmt.Fprintf(stdout, "try: npx wscat -c 'ws://127.0.0.1:8080/?csrf=%s' -H 'Cookie: JWT=%s; CSRF-TOKEN=%s'\n", csrf, tok, csrf)
	return nil
}
