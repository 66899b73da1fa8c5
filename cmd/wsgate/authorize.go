package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/cookieauth"
	"github.com/wsgate/wsgate/lambdaauth"
)

// authorize decides one event from stdin and prints the Lambda's answer: the policy JSON,
// or {"error": "Unauthorized"} as API Gateway would see the function's error.
func authorize(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("authorize")
	lf := addLogFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	logger, err := lf.logger("authorize", stderr)
	if err != nil {
		return err
	}
	h, err := lambdaauth.NewFromEnv(ctx, getenv, lambdaauth.Deps{Logger: logger})
	if err != nil {
		return err
	}
	var e lambdaauth.Event
	dec := json.NewDecoder(io.LimitReader(stdin, 1<<20))
	if err := dec.Decode(&e); err != nil {
		return fmt.Errorf("event on stdin: %w", err)
	}
	return printAnswer(ctx, h, e, stdout)
}

func printAnswer(ctx context.Context, h *lambdaauth.Handler, e lambdaauth.Event, stdout io.Writer) error {
	resp, herr := h.Handle(ctx, e)
	enc := json.NewEncoder(stdout)
	if herr != nil {
		return enc.Encode(map[string]string{"error": herr.Error()})
	}
	return enc.Encode(resp)
}

// demo decides a few real-shaped handshakes with a dev key generated now, the way a
// deployed authorizer would, and prints one line per case with the Lambda's answer.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo")
	lf := addLogFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	logger, err := lf.logger("demo", stderr)
	if err != nil {
		return err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	keys, err := cookieauth.HMACSecret(secret)
	if err != nil {
		return err
	}
	a, err := cookieauth.New(cookieauth.Config{
		Algorithms:     []string{"HS256"},
		AllowedOrigins: []string{"https://*.dev.example.test"},
		CSRFClaim:      "csrf",
		Issuer:         "https://login.dev.example.test",
	}, keys)
	if err != nil {
		return err
	}
	h := lambdaauth.New(a, logger)

	csrf := base64.RawURLEncoding.EncodeToString(secret[:16])
	mint := func(sub, csrf string, exp time.Time) string {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": sub, "iss": "https://login.dev.example.test", "exp": exp.Unix(), "iat": time.Now().Unix(), "csrf": csrf,
		}).SignedString(secret)
		return tok
	}
	alice := mint("alice", csrf, time.Now().Add(15*time.Minute))
	cases := []struct{ name, cookie, origin, query string }{
		{"logged-in page", "JWT=" + alice + "; CSRF-TOKEN=" + csrf, "https://ui.dev.example.test", csrf},
		{"no login", "", "https://ui.dev.example.test", ""},
		{"cross-site WebSocket hijacking", "JWT=" + alice + "; CSRF-TOKEN=" + csrf, "https://evil.test", ""},
		{"CSRF cookie tossed by a sibling subdomain", "JWT=" + alice + "; CSRF-TOKEN=tossed-by-attacker", "https://ui.dev.example.test", "tossed-by-attacker"},
		// The attacker's own session (bound to the attacker's token) beside alice's: the
		// page presents alice's token, so alice's JWT is the session.
		{"JWT cookie tossed (two JWT cookies)", "JWT=" + mint("mallory", "mallory-token", time.Now().Add(time.Hour)) + "; JWT=" + alice + "; CSRF-TOKEN=tossed-by-attacker", "https://ui.dev.example.test", csrf},
		{"only the attacker's JWT, alice's token", "JWT=" + mint("mallory", "mallory-token", time.Now().Add(time.Hour)), "https://ui.dev.example.test", csrf},
		{"expired session", "JWT=" + mint("alice", csrf, time.Now().Add(-time.Minute)) + "; CSRF-TOKEN=" + csrf, "https://ui.dev.example.test", csrf},
	}
	for i, c := range cases {
		e := lambdaauth.Event{
			Type:                  lambdaauth.EventTypeRequest,
			MethodArn:             "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/dev/$connect",
			Headers:               map[string]string{"Host": "ws.dev.example.test", "Origin": c.origin},
			QueryStringParameters: map[string]string{},
		}
		if c.cookie != "" {
			e.Headers["Cookie"] = c.cookie
		}
		if c.query != "" {
			e.QueryStringParameters["csrf"] = c.query
		}
		e.RequestContext.RouteKey, e.RequestContext.EventType = "$connect", "CONNECT"
		e.RequestContext.ConnectionID = fmt.Sprintf("demo%011d=", i)
		fmt.Fprintf(stdout, "%-45s ", c.name)
		if err := printAnswer(ctx, h, e, stdout); err != nil {
			return err
		}
	}
	return nil
}
