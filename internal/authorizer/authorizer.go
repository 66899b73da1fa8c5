// Package authorizer decides a WebSocket $connect with the API's REQUEST authorizer and
// caches the result.
//
// Three authorizers implement [Authorizer]: the built-in cookie authorizer ([Cookie],
// package cookieauth run in-process), a Lambda function invoked with the AWS SDK
// ([Lambda]) and an HTTP endpoint that receives the authorizer event ([HTTP]). Each turns
// the event into a [Result] whose [Outcome] maps to the handshake's status as API Gateway
// does: Allow admits, Unauthorized is 401, Forbidden is 403, Failed is 500.
//
// Two wrappers complete the picture. [WithIdentitySources] answers 401 without calling the
// authorizer when a configured identity source is missing or empty, as API Gateway does.
// [NewCache] keeps results under a key that hashes every input the authorizer decides
// on: the identity sources and the method ARN ([KeyBySources]), or, for the cookie
// authorizer, exactly the inputs cookieauth reads ([Cookie.CacheKey]). AWS does not
// cache WebSocket authorizer results, so the cache is an opt-in extension. The usual
// chain is
//
//	WithIdentitySources(NewCache(authz, KeyBySources(sources), ttl, size), sources)
//
// [FromConfig] builds that chain from an authorizer's configuration.
//
// Reasons in a Result are safe to log: they never hold a cookie, token or secret.
package authorizer

import (
	"context"
	"net/http"
	"time"

	"github.com/wsgate/wsgate/authevent"
)

// Outcome is an authorizer's verdict. The zero value is not a valid outcome and is treated
// as Failed.
type Outcome int

// The outcomes.
const (
	// Allow admits the connection.
	Allow Outcome = iota + 1
	// Unauthorized means no valid credential was presented: the handshake fails with 401.
	Unauthorized
	// Forbidden means the authorizer refused the caller (a Deny policy, or an Allow that
	// does not cover the method ARN): the handshake fails with 403.
	Forbidden
	// Failed means no decision could be made (the authorizer errored, timed out or
	// answered something invalid): the handshake fails with 500.
	Failed
)

// String returns the outcome's name as used in logs and metrics.
func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	default:
		return "failed"
	}
}

// Result is what an authorizer decided about one handshake.
type Result struct {
	// Outcome is the verdict.
	Outcome Outcome
	// PrincipalID is the caller's principal ($context.authorizer.principalId). Set on
	// Allow, and on Forbidden when the authorizer named the principal.
	PrincipalID string
	// Context reaches integrations as $context.authorizer.<key>. Values are strings,
	// booleans and numbers only: json.Number from Lambda and HTTP authorizers (exactly
	// as the authorizer wrote them), float64 from the cookie authorizer. Set on Allow.
	Context map[string]any
	// ExpiresAt is when the credential expires (the JWT's exp), when the authorizer
	// knows it; zero otherwise. A cache never serves an Allow past it.
	ExpiresAt time.Time
	// Subprotocol is the Sec-WebSocket-Protocol entry the built-in cookie authorizer
	// consumed (it carried the CSRF token), else "". It tells the gateway which offered
	// entry is the authorizer's; per docs/authorizer.md the gateway must not echo this
	// entry as the connection's subprotocol.
	Subprotocol string
	// UsageIdentifierKey is the API key the authorizer named (its answer's
	// usageIdentifierKey), read when Api.ApiKeySelectionExpression is
	// $context.authorizer.usageIdentifierKey. Set on Allow; "" when it named none. A
	// secret: never logged.
	UsageIdentifierKey string
	// Reason says why, in a few words, for logs. It never holds a token, cookie or
	// secret.
	Reason string
	// Cached reports that the result was served from a [Cache] without calling the
	// authorizer.
	Cached bool
}

// Status is the HTTP status the handshake fails with: 0 for Allow (the handshake goes
// on to the $connect integration), 401 for Unauthorized, 403 for Forbidden and 500 for
// Failed or an invalid outcome.
func (r Result) Status() int {
	switch r.Outcome {
	case Allow:
		return 0
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

// Authorizer decides a $connect handshake from its REQUEST authorizer event.
// Implementations are safe for concurrent use and never return an error: failures are
// Results with Outcome Failed.
type Authorizer interface {
	Authorize(ctx context.Context, ev *authevent.Event) Result
}

// failed returns a Failed result with reason.
func failed(reason string) Result { return Result{Outcome: Failed, Reason: reason} }

// fromResponse turns an authorizer's validated answer into a Result for methodArn: an
// explicit Deny, or no Allow covering methodArn, is Forbidden; otherwise Allow.
func fromResponse(resp authevent.Response, methodArn string) Result {
	if !resp.PolicyDocument.Allows(methodArn) {
		reason := "policy does not allow the method ARN"
		if explicitDeny(resp.PolicyDocument, methodArn) {
			reason = "policy denies the method ARN"
		}
		return Result{Outcome: Forbidden, PrincipalID: resp.PrincipalID, Reason: reason}
	}
	return Result{Outcome: Allow, PrincipalID: resp.PrincipalID, Context: resp.Context,
		UsageIdentifierKey: resp.UsageIdentifierKey, Reason: "allowed"}
}

// explicitDeny reports whether a Deny statement of p covers methodArn: it asks Allows
// about the Deny statements turned into Allows, so the wildcard rules stay authevent's.
func explicitDeny(p authevent.PolicyDocument, methodArn string) bool {
	var denies authevent.PolicyDocument
	for _, s := range p.Statement {
		if s.Effect == authevent.EffectDeny {
			s.Effect = authevent.EffectAllow
			denies.Statement = append(denies.Statement, s)
		}
	}
	return denies.Allows(methodArn)
}

// truncate shortens s to at most n bytes for a log reason, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// InProcess reports whether a decides in this process, calling nothing out: the built-in
// cookie authorizer, behind an identity-source check or a cache.
func InProcess(a Authorizer) bool {
	for {
		switch x := a.(type) {
		case *Cookie:
			return true
		case identityGuard:
			a = x.next
		case *Cache:
			a = x.next
		default:
			return false
		}
	}
}
