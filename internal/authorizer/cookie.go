package authorizer

import (
	"context"

	"github.com/wsgate/wsgate/authevent"
	"github.com/wsgate/wsgate/cookieauth"
)

// Cookie is the built-in cookie authorizer ([cookieauth]) run in-process. It is safe for
// concurrent use.
type Cookie struct {
	a *cookieauth.Authorizer
}

var _ Authorizer = (*Cookie)(nil)

// NewCookie returns the authorizer that decides with a.
func NewCookie(a *cookieauth.Authorizer) *Cookie { return &Cookie{a: a} }

// Authorize decides the event's handshake with cookieauth: Allow is Allow, Unauthorized
// is Unauthorized (401), Deny is Forbidden (403) and Error is Failed (500). The
// principal, context, expiry and CSRF subprotocol entry are carried over.
func (c *Cookie) Authorize(ctx context.Context, ev *authevent.Event) Result {
	if ev == nil {
		return failed("no authorizer event")
	}
	d := c.a.Decide(ctx, ev.Request())
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

// RequiredSources lists the identity sources a cache in front of the cookie authorizer
// configured by cfg must be keyed by, because the decision reads them:
// route.request.header.Cookie; route.request.header.Origin (always: even with
// AllowMissingOrigin an Origin that is present is checked); and, unless DisableCSRF, the
// two CSRF transports route.request.querystring.<CSRFQueryParam> and
// route.request.header.Sec-WebSocket-Protocol. A cache keyed by fewer serves one
// caller's decision to another whose request differs in a checked input: an
// authorization bypass. Config validation refuses such a cache (see [MissingSources]).
//
// These are cache-key inputs, not inputs every request must present: a client sends the
// CSRF token in one of the two transports, and a non-browser client may omit Origin. Do
// not pass them to [WithIdentitySources] as they are.
func RequiredSources(cfg cookieauth.Config) []IdentitySource {
	src := []IdentitySource{
		{kind: kindHeader, name: "Cookie"},
		{kind: kindHeader, name: "Origin"},
	}
	if !cfg.DisableCSRF {
		param := cfg.CSRFQueryParam
		if param == "" {
			param = "csrf" // cookieauth's default for an empty CSRFQueryParam
		}
		src = append(src,
			IdentitySource{kind: kindQuery, name: param},
			IdentitySource{kind: kindHeader, name: "Sec-WebSocket-Protocol"},
		)
	}
	return src
}
