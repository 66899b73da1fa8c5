package authorizer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wsgate/wsgate/authevent"
)

// sourceKind is where an identity source is read from.
type sourceKind int

const (
	kindHeader sourceKind = iota + 1
	kindQuery
	kindStageVariable
	kindContext
)

// The prefixes of identity source expressions on a WebSocket API.
const (
	prefixHeader        = "route.request.header."
	prefixQuery         = "route.request.querystring."
	prefixStageVariable = "stageVariables."
	prefixContext       = "context."
)

// IdentitySource is one parsed identity source of a REQUEST authorizer:
// route.request.header.<name>, route.request.querystring.<name>,
// stageVariables.<name> or context.<variable>. The zero value is not a valid source;
// build one with [ParseIdentitySource].
type IdentitySource struct {
	kind sourceKind
	name string
}

// contextVariables maps the $context variables an authorizer event carries (those set
// before authorization; docs/aws-contract.md) to their value in the event's requestContext.
var contextVariables = map[string]func(rc *authevent.RequestContext) string{
	"connectionId":      func(rc *authevent.RequestContext) string { return rc.ConnectionID },
	"connectedAt":       func(rc *authevent.RequestContext) string { return millis(rc.ConnectedAt) },
	"domainName":        func(rc *authevent.RequestContext) string { return rc.DomainName },
	"eventType":         func(rc *authevent.RequestContext) string { return rc.EventType },
	"routeKey":          func(rc *authevent.RequestContext) string { return rc.RouteKey },
	"requestId":         func(rc *authevent.RequestContext) string { return rc.RequestID },
	"extendedRequestId": func(rc *authevent.RequestContext) string { return rc.ExtendedRequestID },
	"apiId":             func(rc *authevent.RequestContext) string { return rc.APIID },
	"stage":             func(rc *authevent.RequestContext) string { return rc.Stage },
	"requestTime":       func(rc *authevent.RequestContext) string { return rc.RequestTime },
	"requestTimeEpoch":  func(rc *authevent.RequestContext) string { return millis(rc.RequestTimeEpoch) },
	"identity.sourceIp": func(rc *authevent.RequestContext) string { return rc.Identity.SourceIP },
	"identity.userAgent": func(rc *authevent.RequestContext) string {
		return rc.Identity.UserAgent
	},
}

// millis formats a Unix millisecond time; 0 (unset) is "".
func millis(ms int64) string {
	if ms == 0 {
		return ""
	}
	return strconv.FormatInt(ms, 10)
}

// ParseIdentitySource parses one identity source expression. Header names must be HTTP
// tokens, stage variable names letters, digits and underscores, query parameter names
// non-empty without control characters, and context variables one of the $context
// variables known when the authorizer runs (connectionId, connectedAt, domainName,
// eventType, routeKey, requestId, extendedRequestId, apiId, stage, requestTime,
// requestTimeEpoch, identity.sourceIp, identity.userAgent). The error names the value.
func ParseIdentitySource(s string) (IdentitySource, error) {
	src, err := parseIdentitySource(s)
	if err != nil {
		return IdentitySource{}, fmt.Errorf("identity source %q: %w", s, err)
	}
	return src, nil
}

func parseIdentitySource(s string) (IdentitySource, error) {
	switch {
	case strings.HasPrefix(s, prefixHeader):
		name := s[len(prefixHeader):]
		if !isToken(name) {
			return IdentitySource{}, errors.New("header name must be a non-empty HTTP token")
		}
		return IdentitySource{kind: kindHeader, name: name}, nil
	case strings.HasPrefix(s, prefixQuery):
		name := s[len(prefixQuery):]
		if name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
			return IdentitySource{}, errors.New("query parameter name must be non-empty UTF-8 without control characters")
		}
		return IdentitySource{kind: kindQuery, name: name}, nil
	case strings.HasPrefix(s, prefixStageVariable):
		name := s[len(prefixStageVariable):]
		if name == "" || strings.ContainsFunc(name, func(r rune) bool { return !isWordRune(r) }) {
			return IdentitySource{}, errors.New("stage variable name must be letters, digits and underscores")
		}
		return IdentitySource{kind: kindStageVariable, name: name}, nil
	case strings.HasPrefix(s, prefixContext):
		name := s[len(prefixContext):]
		if _, ok := contextVariables[name]; !ok {
			return IdentitySource{}, fmt.Errorf("not a context variable set before authorization (one of %s)", strings.Join(contextNames(), ", "))
		}
		return IdentitySource{kind: kindContext, name: name}, nil
	case strings.HasPrefix(s, "$request.") || strings.HasPrefix(s, "method.request."):
		return IdentitySource{}, errors.New("that is the HTTP/REST API form: a WebSocket API uses route.request.header.<name> or route.request.querystring.<name>")
	default:
		return IdentitySource{}, errors.New("must start with route.request.header., route.request.querystring., stageVariables. or context. followed by a name")
	}
}

func contextNames() []string {
	names := make([]string, 0, len(contextVariables))
	for n := range contextVariables {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ParseIdentitySources parses a list of identity source expressions. It reports every
// bad entry, each with its index and value.
func ParseIdentitySources(list []string) ([]IdentitySource, error) {
	out := make([]IdentitySource, 0, len(list))
	var errs []error
	for i, s := range list {
		src, err := ParseIdentitySource(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("[%d]: %w", i, err))
			continue
		}
		out = append(out, src)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// String returns the expression the source was parsed from.
func (s IdentitySource) String() string {
	switch s.kind {
	case kindHeader:
		return prefixHeader + s.name
	case kindQuery:
		return prefixQuery + s.name
	case kindStageVariable:
		return prefixStageVariable + s.name
	case kindContext:
		return prefixContext + s.name
	default:
		return "<invalid identity source>"
	}
}

// Equal reports whether s and o read the same value: header names compare
// case-insensitively, every other name exactly.
func (s IdentitySource) Equal(o IdentitySource) bool {
	if s.kind != o.kind {
		return false
	}
	if s.kind == kindHeader {
		return strings.EqualFold(s.name, o.name)
	}
	return s.name == o.name
}

// Value returns the source's value in ev and whether it is present. Header names match
// case-insensitively; a header or query parameter with several values gives them joined
// with ","; a source that is absent or whose values are all empty is missing.
func (s IdentitySource) Value(ev *authevent.Event) (string, bool) {
	vals := s.values(ev)
	if !slices.ContainsFunc(vals, func(v string) bool { return v != "" }) {
		return "", false
	}
	return strings.Join(vals, ","), true
}

// values returns every value of the source in ev, as the authorizer sees them (the
// merge of authevent.Event.Request): for headers, the values of every multiValueHeaders
// name that matches, or else of every headers name that matches, names in sorted order.
func (s IdentitySource) values(ev *authevent.Event) []string {
	if ev == nil {
		return nil
	}
	switch s.kind {
	case kindHeader:
		if names := matchingNames(ev.MultiValueHeaders, s.name); len(names) > 0 {
			var vals []string
			for _, n := range names {
				vals = append(vals, ev.MultiValueHeaders[n]...)
			}
			return vals
		}
		var vals []string
		for _, name := range matchingNames(ev.Headers, s.name) {
			vals = append(vals, ev.Headers[name])
		}
		return vals
	case kindQuery:
		if vals, ok := ev.MultiValueQueryStringParameters[s.name]; ok {
			return vals
		}
		if v, ok := ev.QueryStringParameters[s.name]; ok {
			return []string{v}
		}
	case kindStageVariable:
		if v, ok := ev.StageVariables[s.name]; ok {
			return []string{v}
		}
	case kindContext:
		if f := contextVariables[s.name]; f != nil {
			if v := f(&ev.RequestContext); v != "" {
				return []string{v}
			}
		}
	}
	return nil
}

// matchingNames returns the keys of m equal to name ignoring case, sorted.
func matchingNames[V any](m map[string]V, name string) []string {
	var names []string
	for n := range m {
		if strings.EqualFold(n, name) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// identityGuard refuses events whose identity sources are missing.
type identityGuard struct {
	next    Authorizer
	sources []IdentitySource
	alt     standIn // nil: next accepts each source in one form only
}

var _ Authorizer = identityGuard{}

// standIn is implemented by an authorizer that also accepts an identity source's input in
// another form. The guard does not refuse an event whose source is missing when its
// stand-in is there: the built-in cookie authorizer takes its CSRF token from the query
// parameter or from a Sec-WebSocket-Protocol entry ([Cookie]), so a config listing the
// query parameter must not refuse the subprotocol form.
type standIn interface {
	// standsIn reports whether ev carries src's input in another form the authorizer
	// decides on.
	standsIn(src IdentitySource, ev *authevent.Event) bool
}

// WithIdentitySources returns next behind a guard that answers Unauthorized (401),
// without calling next, when any of sources is missing or empty in the event, as API
// Gateway does for a REQUEST authorizer's identity sources, unless next accepts that
// input in another form the event carries (the cookie authorizer's CSRF subprotocol
// entry for its CSRF query parameter). No sources: next itself.
func WithIdentitySources(next Authorizer, sources []IdentitySource) Authorizer {
	if len(sources) == 0 {
		return next
	}
	alt, _ := next.(standIn)
	return identityGuard{next: next, sources: sources, alt: alt}
}

// Authorize checks the sources, then asks next.
func (g identityGuard) Authorize(ctx context.Context, ev *authevent.Event) Result {
	for _, s := range g.sources {
		if _, ok := s.Value(ev); !ok && (g.alt == nil || ev == nil || !g.alt.standsIn(s, ev)) {
			return Result{Outcome: Unauthorized, Reason: "identity source " + s.String() + " missing"}
		}
	}
	return g.next.Authorize(ctx, ev)
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isWordRune(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}
