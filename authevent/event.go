// Package authevent holds the wire types of an API Gateway WebSocket REQUEST authorizer:
// the event it receives and the answer it returns. It has no AWS SDK dependency, so the
// gateway, its authorizers and the Lambda handler (package lambdaauth) all share it.
//
// [Event] is the REQUEST authorizer event of a WebSocket $connect, decoded without
// dropping requestContext fields (connectionId, routeKey, eventType, domainName, ...).
// [Response] is the authorizer's answer: a principal, an IAM policy on the method ARN
// and a context. [ParseResponse] reads and validates the answer of any authorizer (a
// gateway calling a Lambda or HTTP authorizer uses it) and [PolicyDocument.Allows] says
// whether its policy admits a method ARN, with IAM's wildcard rules.
package authevent

import (
	"strings"

	"github.com/wsgate/wsgate/cookieauth"
)

// EventTypeRequest is the type of a REQUEST authorizer event, the only kind a WebSocket
// API sends.
const EventTypeRequest = "REQUEST"

// Event is the event API Gateway sends to a REQUEST authorizer on a WebSocket $connect.
// Maps that AWS sends empty are {} and round-trip as {}; absent ones decode as nil and
// encode as null.
type Event struct {
	// Type is "REQUEST".
	Type string `json:"type"`
	// MethodArn is arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect.
	MethodArn string `json:"methodArn"`
	// Headers holds the last value of each request header, names as sent.
	Headers map[string]string `json:"headers"`
	// MultiValueHeaders holds every value of each request header, names as sent.
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	// QueryStringParameters holds the last value of each query parameter.
	QueryStringParameters map[string]string `json:"queryStringParameters"`
	// MultiValueQueryStringParameters holds every value of each query parameter.
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	// StageVariables holds the stage's variables.
	StageVariables map[string]string `json:"stageVariables"`
	// RequestContext describes the connection being opened.
	RequestContext RequestContext `json:"requestContext"`
}

// RequestContext is the requestContext of a WebSocket authorizer event. Unlike
// events.APIGatewayCustomAuthorizerRequestTypeRequestContext it keeps the WebSocket
// fields ($context variables of the connection).
type RequestContext struct {
	// RouteKey is "$connect".
	RouteKey string `json:"routeKey"`
	// EventType is "CONNECT".
	EventType string `json:"eventType"`
	// ExtendedRequestID is API Gateway's extended request id.
	ExtendedRequestID string `json:"extendedRequestId"`
	// RequestTime is the request time as dd/MMM/yyyy:HH:mm:ss +0000.
	RequestTime string `json:"requestTime"`
	// MessageDirection is "IN".
	MessageDirection string `json:"messageDirection"`
	// Stage is the API stage.
	Stage string `json:"stage"`
	// ConnectedAt is the connection time in Unix milliseconds.
	ConnectedAt int64 `json:"connectedAt"`
	// RequestTimeEpoch is the request time in Unix milliseconds.
	RequestTimeEpoch int64 `json:"requestTimeEpoch"`
	// Identity describes the caller.
	Identity Identity `json:"identity"`
	// RequestID is the id of this request ($context.requestId).
	RequestID string `json:"requestId"`
	// DomainName is the host the client connected to.
	DomainName string `json:"domainName"`
	// ConnectionID is the id the connection will have if it is admitted.
	ConnectionID string `json:"connectionId"`
	// APIID is the API's id.
	APIID string `json:"apiId"`
}

// Identity is requestContext.identity of a WebSocket authorizer event.
type Identity struct {
	// SourceIP is the client's address.
	SourceIP string `json:"sourceIp"`
	// UserAgent is the client's User-Agent, when API Gateway includes it.
	UserAgent string `json:"userAgent,omitempty"`
}

// Request converts the event into the handshake cookieauth decides. Every header value
// is kept: multiValueHeaders is preferred; a header found only in headers (an event
// built by hand, or a sender that fills only headers) is added with its single value.
// Header names are kept as sent and compared case-insensitively while merging, so a
// header is never counted twice. Query parameters are merged the same way, with names
// compared exactly. The event's maps are not shared with the result.
func (e Event) Request() cookieauth.Request {
	return cookieauth.Request{
		Headers:   merge(e.MultiValueHeaders, e.Headers, strings.EqualFold),
		Query:     merge(e.MultiValueQueryStringParameters, e.QueryStringParameters, func(a, b string) bool { return a == b }),
		SourceIP:  e.RequestContext.Identity.SourceIP,
		MethodArn: e.MethodArn,
	}
}

// RequestView is [Event.Request] without the copies, for a caller that only reads the
// result (cookieauth's Decide and CacheKey do): when multiValueHeaders already holds
// every header of headers (names compared case-insensitively), and the query maps
// likewise, the result shares the event's maps; otherwise it is Request's. Neither the
// result nor the event may be modified while the other is in use.
func (e *Event) RequestView() cookieauth.Request {
	headers, query := e.MultiValueHeaders, e.MultiValueQueryStringParameters
	if !covers(headers, e.Headers, strings.EqualFold) {
		headers = merge(e.MultiValueHeaders, e.Headers, strings.EqualFold)
	}
	if !covers(query, e.QueryStringParameters, func(a, b string) bool { return a == b }) {
		query = merge(e.MultiValueQueryStringParameters, e.QueryStringParameters, func(a, b string) bool { return a == b })
	}
	return cookieauth.Request{
		Headers:   headers,
		Query:     query,
		SourceIP:  e.RequestContext.Identity.SourceIP,
		MethodArn: e.MethodArn,
	}
}

// covers reports whether merge(multi, single, same) would add nothing to multi, and
// multi is not nil (Request's maps never are).
func covers(multi map[string][]string, single map[string]string, same func(a, b string) bool) bool {
	if multi == nil {
		return false
	}
	for name := range single {
		if !hasName(multi, name, same) {
			return false
		}
	}
	return true
}

// hasName reports whether multi has name, or a name the same as it by same.
func hasName(multi map[string][]string, name string, same func(a, b string) bool) bool {
	if _, ok := multi[name]; ok {
		return true
	}
	for m := range multi {
		if same(m, name) {
			return true
		}
	}
	return false
}

// merge returns multi plus every entry of single whose name is not in multi.
func merge(multi map[string][]string, single map[string]string, same func(a, b string) bool) map[string][]string {
	// Sized for multi: single names the same headers in every event API Gateway sends
	// (and the gateway's), so a map for both would be twice as large as it needs.
	out := make(map[string][]string, len(multi))
	n := 0
	for _, vals := range multi {
		n += len(vals)
	}
	// One array for every value instead of a clone per name; each entry's capacity ends
	// at its values, so an append to one never writes into the next.
	all := make([]string, 0, n)
	for name, vals := range multi {
		if vals == nil {
			out[name] = nil
			continue
		}
		all = append(all, vals...)
		out[name] = all[len(all)-len(vals) : len(all) : len(all)]
	}
	for name, v := range single {
		if !hasName(multi, name, same) {
			out[name] = []string{v}
		}
	}
	return out
}
