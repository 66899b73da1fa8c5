// Package integration calls a route's backend the way API Gateway does: HTTP_PROXY, HTTP
// (request parameters and VTL request templates), AWS_PROXY (Lambda proxy invoke), AWS
// (Lambda custom invoke) and MOCK, and transforms a non-proxy backend's answer with its
// integration responses (responses.go).
package integration

import (
	"context"
	"net/http"
	"time"
)

// Event types, as in $context.eventType.
const (
	EventConnect    = "CONNECT"
	EventMessage    = "MESSAGE"
	EventDisconnect = "DISCONNECT"
)

// Request is everything an integration may see about one route invocation: the $context
// variables, and the handshake's headers and query on CONNECT.
type Request struct {
	RouteKey          string
	EventType         string // EventConnect, EventMessage or EventDisconnect
	ConnectionID      string
	MessageID         string // MESSAGE only
	RequestID         string
	ExtendedRequestID string
	ConnectedAt       time.Time
	RequestTime       time.Time
	DomainName        string
	Stage             string
	APIID             string
	SourceIP          string
	UserAgent         string

	// Headers and Query are set on CONNECT only (multi-value, names as sent).
	Headers map[string][]string
	Query   map[string][]string

	// Body is the message on MESSAGE; IsBase64Encoded marks a binary frame.
	Body            []byte
	IsBase64Encoded bool

	// PrincipalID and AuthorizerContext come from the $connect authorizer and reach every
	// route of the connection ($context.authorizer.*).
	PrincipalID       string
	AuthorizerContext AuthContext
	// IAM is who signed the handshake when $connect is AWS_IAM ($context.identity.*,
	// iam.go); nil otherwise.
	IAM *IAMIdentity

	StageVariables map[string]string

	// DisconnectStatusCode and DisconnectReason are set on DISCONNECT.
	DisconnectStatusCode int
	DisconnectReason     string
}

// Response is an integration's answer. On $connect a non-2xx StatusCode refuses the
// handshake; on message routes Body is sent to the client only if the route has a route
// response.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Integration invokes one backend.
type Integration interface {
	Invoke(ctx context.Context, req *Request) (*Response, error)
}
