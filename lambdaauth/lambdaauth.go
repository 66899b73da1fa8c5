// Package lambdaauth runs the cookie authorizer ([cookieauth]) as an AWS Lambda REQUEST
// authorizer for API Gateway WebSocket APIs.
//
// [Handler] turns a [cookieauth.Decision] into the authorizer's answer: Allow and Deny
// become policies, Unauthorized becomes the error "Unauthorized" (API Gateway answers
// 401), an Error becomes a generic error (500). [NewFromEnv] builds a Handler from
// WSGATE_* environment variables; cmd/authorizer is the Lambda built from it. Users may
// build their own authorizer Lambda from this package.
//
// The event and answer types live in package authevent, which has no AWS dependency;
// the names below are aliases of them, kept so that this package's API stays as it was.
package lambdaauth

import "github.com/wsgate/wsgate/authevent"

// Aliases of the authorizer's wire types, kept for compatibility: see package authevent.
type (
	// Event is [authevent.Event].
	Event = authevent.Event
	// RequestContext is [authevent.RequestContext].
	RequestContext = authevent.RequestContext
	// Identity is [authevent.Identity].
	Identity = authevent.Identity
	// Response is [authevent.Response].
	Response = authevent.Response
	// PolicyDocument is [authevent.PolicyDocument].
	PolicyDocument = authevent.PolicyDocument
	// Statement is [authevent.Statement].
	Statement = authevent.Statement
	// StringList is [authevent.StringList].
	StringList = authevent.StringList
)

// Constants of the authorizer's wire format, kept for compatibility: see package
// authevent.
const (
	// EventTypeRequest is [authevent.EventTypeRequest].
	EventTypeRequest = authevent.EventTypeRequest
	// PolicyVersion is [authevent.PolicyVersion].
	PolicyVersion = authevent.PolicyVersion
	// ActionInvoke is [authevent.ActionInvoke].
	ActionInvoke = authevent.ActionInvoke
	// EffectAllow is [authevent.EffectAllow].
	EffectAllow = authevent.EffectAllow
	// EffectDeny is [authevent.EffectDeny].
	EffectDeny = authevent.EffectDeny
	// MaxResultBytes is [authevent.MaxResultBytes].
	MaxResultBytes = authevent.MaxResultBytes
)

// AllowResponse is [authevent.AllowResponse], kept for compatibility.
func AllowResponse(principalID, methodArn string, context map[string]any) Response {
	return authevent.AllowResponse(principalID, methodArn, context)
}

// DenyResponse is [authevent.DenyResponse], kept for compatibility.
func DenyResponse(principalID, methodArn string) Response {
	return authevent.DenyResponse(principalID, methodArn)
}

// ParseResponse is [authevent.ParseResponse], kept for compatibility.
func ParseResponse(b []byte) (Response, error) { return authevent.ParseResponse(b) }
