// Package cookieauth decides a WebSocket handshake ($connect) from the browser's cookies.
//
// A browser app that logs users in with a JWT cookie (HttpOnly) cannot set headers on a
// WebSocket handshake. The page therefore presents a CSRF token out of band, as a query
// parameter or a Sec-WebSocket-Protocol entry, and the handshake carries the cookies and
// Origin. The page gets the token from its own origin (its login response, a same-origin
// session endpoint), not from a cookie every sibling host of the cookie's Domain could
// read or replace. An Authorizer verifies, in this order:
//
//  1. the Cookie header: at least one JWT cookie; with a binding claim (Config.CSRFClaim) at
//     most [MaxJWTCookies], since a sibling host can toss its own next to the user's;
//     without one exactly one, and at most one CSRF cookie;
//  2. each JWT: signature with an explicit algorithm allowlist and a key whose type matches
//     the algorithm, exp required, nbf/iss/aud checked, bounded clock leeway; the session
//     is the one that verifies and is bound to the presented token (else the first that
//     verifies), so a tossed cookie can neither refuse the user nor swap the session;
//  3. the Origin against an allowlist (exact origins and https://*.example.com patterns);
//  4. the CSRF token presented out of band equals the session's binding claim (signed
//     double submit; the CSRF cookie is then not read) or, without a binding claim, the
//     CSRF cookie (plain double submit). Comparisons are constant-time.
//
// Failures of 1–2 are [Unauthorized] (401 at the handshake); failures of 3–4 are [Deny]
// (403). The package has no AWS and no HTTP server dependency: the Lambda handler lives in
// package lambdaauth, the gateway calls [Authorizer.Decide] in-process.
//
// Decisions never carry a cookie, token or secret in their Reason: it is safe to log.
package cookieauth

import (
	"context"
	"time"
)

// Outcome is the verdict of a decision.
type Outcome int

// The outcomes. The zero value is Error so that an unset Decision never allows.
const (
	// Error means the decision could not be made (a key could not be fetched, the
	// result would be too large). API Gateway answers 500.
	Error Outcome = iota
	// Unauthorized means no valid credential was presented. API Gateway answers 401.
	Unauthorized
	// Deny means the caller is authenticated but the request is refused (Origin, CSRF).
	// API Gateway answers 403.
	Deny
	// Allow admits the connection.
	Allow
)

// String returns the outcome's name as used in logs and metrics.
func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	case Unauthorized:
		return "unauthorized"
	default:
		return "error"
	}
}

// Request is a WebSocket handshake as API Gateway shows it to a REQUEST authorizer.
// Header and query names are matched case-insensitively for headers and exactly for query
// parameters, as API Gateway does.
type Request struct {
	// Headers holds every request header with all of its values (multiValueHeaders).
	Headers map[string][]string
	// Query holds the query string parameters with all of their values.
	Query map[string][]string
	// SourceIP is the client address; informational only.
	SourceIP string
	// MethodArn is the ARN of the $connect route; informational only.
	MethodArn string
}

// Decision is the result of [Authorizer.Decide].
type Decision struct {
	// Outcome is the verdict.
	Outcome Outcome
	// PrincipalID is the token's sub claim; set when the token was valid.
	PrincipalID string
	// Context holds sub, exp and the configured context claims. Values are strings,
	// float64 numbers or booleans only, as API Gateway requires. Set on Allow.
	Context map[string]any
	// ExpiresAt is the token's exp; zero when no valid token was seen.
	ExpiresAt time.Time
	// Reason names the check that decided, for logs. It never holds a secret.
	Reason string
	// Subprotocol is the Sec-WebSocket-Protocol entry that carried the CSRF token, if
	// any. A gateway must not select it as the connection's subprotocol.
	Subprotocol string
}

// KeySource gives the key that verifies a token's signature. Implementations return keys
// of the Go types golang-jwt/jwt/v5 expects: []byte for HS*, *rsa.PublicKey for RS*/PS*,
// *ecdsa.PublicKey for ES*, ed25519.PublicKey for EdDSA. The Authorizer checks again that
// the key's type matches the token's algorithm, so a source cannot cause alg confusion.
type KeySource interface {
	// Key returns the verification key for a token whose header has been parsed but
	// whose signature has not been checked yet. alg and kid come from that header.
	// An unknown kid is reported by wrapping ErrKeyNotFound; any other error means the
	// key could not be had (the decision is Error). Errors are logged: they must never
	// contain key material.
	Key(ctx context.Context, alg, kid string) (any, error)
}
