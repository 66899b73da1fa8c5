package authorizer

import (
	"context"
	"crypto/sha256"

	"github.com/wsgate/wsgate/authevent"
	"github.com/wsgate/wsgate/cookieauth"
)

// Cookie is the built-in cookie authorizer ([cookieauth]) run in-process. It is safe for
// concurrent use.
type Cookie struct {
	a *cookieauth.Authorizer
}

var (
	_ Authorizer = (*Cookie)(nil)
	_ KeyFunc    = (*Cookie)(nil).CacheKey
	_ standIn    = (*Cookie)(nil)
)

// NewCookie returns the authorizer that decides with a.
func NewCookie(a *cookieauth.Authorizer) *Cookie { return &Cookie{a: a} }

// Authorize decides the event's handshake with cookieauth (see [fromDecision]).
func (c *Cookie) Authorize(ctx context.Context, ev *authevent.Event) Result {
	if ev == nil {
		return failed("no authorizer event")
	}
	return fromDecision(c.a.Decide(ctx, ev.RequestView()))
}

// CacheKey is the [KeyFunc] of a [Cache] in front of c: cookieauth's hash of exactly
// the inputs its decision reads (both cookies, the Origin, every presented CSRF token),
// whatever the identity sources say. ev must not be nil.
func (c *Cookie) CacheKey(ev *authevent.Event) [sha256.Size]byte {
	return c.a.CacheKey(ev.RequestView())
}

// standsIn reports whether ev presents the CSRF token in a Sec-WebSocket-Protocol entry
// when src is the CSRF query parameter: either transport satisfies an identity source
// that names the query parameter (see [WithIdentitySources]).
func (c *Cookie) standsIn(src IdentitySource, ev *authevent.Event) bool {
	q := c.a.CSRFQueryParam()
	return q != "" && src.kind == kindQuery && src.name == q && c.a.CSRFInSubprotocol(ev.RequestView())
}

// fromDecision is the one translation of a cookieauth decision into a Result: Allow is
// Allow, Unauthorized is Unauthorized (401), Deny is Forbidden (403) and Error is Failed
// (500). The principal, context (on Allow), expiry, reason and CSRF subprotocol entry
// are carried over.
func fromDecision(d cookieauth.Decision) Result {
	r := Result{
		PrincipalID: d.PrincipalID,
		ExpiresAt:   d.ExpiresAt,
		Subprotocol: d.Subprotocol,
		Reason:      d.Reason,
	}
	switch d.Outcome {
	case cookieauth.Allow:
		r.Outcome, r.Context = Allow, d.Context
	case cookieauth.Unauthorized:
		r.Outcome = Unauthorized
	case cookieauth.Deny:
		r.Outcome = Forbidden
	default:
		r.Outcome = Failed
	}
	return r
}
