package integration

import (
	"encoding/json"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/wsgate/wsgate/internal/accesslog"
)

// RequestTimeLayout is $context.requestTime's format (dd/MMM/yyyy:HH:mm:ss +0000), the
// access log's too.
const RequestTimeLayout = accesslog.RequestTimeLayout

// AuthContext is a $connect authorizer's context as a connection keeps it.
type AuthContext = accesslog.AuthContext

// NewAuthContext is an authorizer's context as a connection keeps it.
func NewAuthContext(m map[string]any) AuthContext { return accesslog.NewAuthContext(m) }

// ContextVars returns the $context variables of req, nested as templates see them:
// identity and authorizer are maps. Authorizer context values are strings, as API
// Gateway hands them to templates.
func (req *Request) ContextVars() map[string]any {
	auth := make(map[string]any, len(req.AuthorizerContext)+1)
	for _, e := range req.AuthorizerContext {
		auth[e.Key] = stringify(e.Value)
	}
	if req.PrincipalID != "" {
		auth["principalId"] = req.PrincipalID
	}
	m := map[string]any{
		"connectionId":      req.ConnectionID,
		"connectedAt":       req.ConnectedAt.UnixMilli(),
		"domainName":        req.DomainName,
		"eventType":         req.EventType,
		"messageDirection":  "IN",
		"routeKey":          req.RouteKey,
		"requestId":         req.RequestID,
		"extendedRequestId": req.ExtendedRequestID,
		"apiId":             req.APIID,
		"stage":             req.Stage,
		"requestTime":       req.RequestTime.UTC().Format(RequestTimeLayout),
		"requestTimeEpoch":  req.RequestTime.UnixMilli(),
		"identity":          req.identityVars(), // iam.go
		"authorizer":        auth,
	}
	if req.MessageID != "" {
		m["messageId"] = req.MessageID
	}
	if req.EventType == EventDisconnect {
		m["disconnectStatusCode"] = req.DisconnectStatusCode
		m["disconnectReason"] = req.DisconnectReason
	}
	return m
}

// TemplateData is what a request template renders from.
func (req *Request) TemplateData() *TemplateData {
	return &TemplateData{Body: req.Body, Context: req.ContextVars(), StageVariables: req.StageVariables}
}

// ContextValue returns the $context variable name ("connectionId",
// "identity.sourceIp", "authorizer.principalId", "authorizer.<key>") as a string.
func (req *Request) ContextValue(name string) (string, bool) {
	var v any = req.ContextVars()
	for part := range strings.SplitSeq(name, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = m[part]; !ok {
			return "", false
		}
	}
	if _, isMap := v.(map[string]any); isMap {
		return "", false
	}
	return stringify(v), true
}

// header returns the last value of a handshake header, names case-insensitive.
func (req *Request) header(name string) (string, bool) {
	for k, vs := range req.Headers {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[len(vs)-1], true
		}
	}
	if vs := req.Headers[textproto.CanonicalMIMEHeaderKey(name)]; len(vs) > 0 {
		return vs[len(vs)-1], true
	}
	return "", false
}

// query returns the last value of a handshake query parameter.
func (req *Request) query(name string) (string, bool) {
	vs := req.Query[name]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// stringify renders an authorizer context value or a $context variable as a string: a
// JSON scalar as scalarString does, a Go integer in decimal, nil as "", anything else
// with fmt.Sprint.
func stringify(v any) string {
	switch v := v.(type) {
	case string, bool, float64, json.Number, nil:
		return scalarString(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	default:
		return fmt.Sprint(v)
	}
}
