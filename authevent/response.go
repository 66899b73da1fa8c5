package authevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wsgate/wsgate/cookieauth"
)

// Policy vocabulary of an authorizer's answer.
const (
	// PolicyVersion is the IAM policy language version the authorizer writes.
	PolicyVersion = "2012-10-17"
	// ActionInvoke is the action an authorizer's policy grants or denies.
	ActionInvoke = "execute-api:Invoke"
	// EffectAllow and EffectDeny are the statement effects.
	EffectAllow = "Allow"
	EffectDeny  = "Deny"
)

// MaxResultBytes is API Gateway's limit on an authorizer's answer.
const MaxResultBytes = cookieauth.MaxResultBytes

// Response is a REQUEST authorizer's answer. Encoded, Action and Resource are lists (as
// aws-lambda-go writes them); [ParseResponse] and UnmarshalJSON also accept a string.
type Response struct {
	// PrincipalID identifies the caller ($context.authorizer.principalId).
	PrincipalID string `json:"principalId"`
	// PolicyDocument allows or denies execute-api:Invoke on the method ARN.
	PolicyDocument PolicyDocument `json:"policyDocument"`
	// Context reaches integrations as $context.authorizer.<key>. Values are strings,
	// numbers or booleans only.
	Context map[string]any `json:"context,omitempty"`
	// UsageIdentifierKey is the API key for usage plans, if any.
	UsageIdentifierKey string `json:"usageIdentifierKey,omitempty"`
}

// PolicyDocument is the IAM policy of an authorizer's answer.
type PolicyDocument struct {
	// Version is "2012-10-17".
	Version string `json:"Version"`
	// Statement lists the statements.
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of an authorizer's policy.
type Statement struct {
	// Sid is the optional statement id.
	Sid string `json:"Sid,omitempty"`
	// Action lists the actions, e.g. execute-api:Invoke.
	Action StringList `json:"Action"`
	// Effect is Allow or Deny.
	Effect string `json:"Effect"`
	// Resource lists the ARNs the statement covers; * and ? are wildcards.
	Resource StringList `json:"Resource"`
}

// StringList is a list of strings that also decodes from a single JSON string, as IAM
// accepts for Action and Resource. It encodes as a list.
type StringList []string

// UnmarshalJSON accepts a string or a list of strings.
func (l *StringList) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = StringList{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("must be a string or a list of strings")
	}
	*l = list
	return nil
}

// AllowResponse is the answer that admits the connection on methodArn.
func AllowResponse(principalID, methodArn string, context map[string]any) Response {
	return policyResponse(principalID, EffectAllow, methodArn, context)
}

// DenyResponse is the answer that refuses the connection on methodArn (403).
func DenyResponse(principalID, methodArn string) Response {
	return policyResponse(principalID, EffectDeny, methodArn, nil)
}

func policyResponse(principalID, effect, methodArn string, context map[string]any) Response {
	return Response{
		PrincipalID: principalID,
		PolicyDocument: PolicyDocument{
			Version: PolicyVersion,
			Statement: []Statement{{
				Action:   StringList{ActionInvoke},
				Effect:   effect,
				Resource: StringList{methodArn},
			}},
		},
		Context: context,
	}
}

// ParseResponse reads and validates an authorizer's answer as API Gateway would: at most
// MaxResultBytes, principalId a string, policyDocument with at least one statement,
// member names in exact case, Effect Allow or Deny, Action and Resource a string or a
// non-empty list of strings, and context values strings, numbers or booleans. Statement
// members the gateway cannot evaluate (Condition, NotAction, NotResource, Principal)
// make the answer invalid rather than being ignored. Context numbers are json.Number.
// An error means a malformed answer: the handshake fails with 500.
func ParseResponse(b []byte) (Response, error) {
	if len(b) > MaxResultBytes {
		return Response{}, fmt.Errorf("authorizer result of %d bytes exceeds %d", len(b), MaxResultBytes)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return Response{}, fmt.Errorf("authorizer result is not a JSON object: %w", err)
	}
	var r Response
	raw, ok := top["principalId"]
	if !ok {
		return Response{}, errors.New("principalId: missing")
	}
	if err := json.Unmarshal(raw, &r.PrincipalID); err != nil || isNull(raw) {
		return Response{}, errors.New("principalId: must be a string")
	}
	raw, ok = top["policyDocument"]
	if !ok {
		return Response{}, errors.New("policyDocument: missing")
	}
	doc, err := parsePolicy(raw)
	if err != nil {
		return Response{}, err
	}
	r.PolicyDocument = doc
	if raw, ok := top["context"]; ok && !isNull(raw) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&r.Context); err != nil {
			return Response{}, errors.New("context: must be an object")
		}
	}
	if raw, ok := top["usageIdentifierKey"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &r.UsageIdentifierKey); err != nil {
			return Response{}, errors.New("usageIdentifierKey: must be a string")
		}
	}
	if err := r.validate(); err != nil {
		return Response{}, err
	}
	return r, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// parsePolicy decodes a policy document with exact member names. Statement may be one
// object or a list, as in IAM.
func parsePolicy(b []byte) (PolicyDocument, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return PolicyDocument{}, errors.New("policyDocument: must be an object")
	}
	var doc PolicyDocument
	if raw, ok := m["Version"]; ok {
		if err := json.Unmarshal(raw, &doc.Version); err != nil {
			return PolicyDocument{}, errors.New("policyDocument.Version: must be a string")
		}
	}
	raw, ok := m["Statement"]
	if !ok {
		return PolicyDocument{}, errors.New("policyDocument.Statement: missing")
	}
	var list []json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		list = []json.RawMessage{raw}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return PolicyDocument{}, errors.New("policyDocument.Statement: must be an object or a list of objects")
	}
	for i, sb := range list {
		s, err := parseStatement(sb)
		if err != nil {
			return PolicyDocument{}, fmt.Errorf("policyDocument.Statement[%d]: %w", i, err)
		}
		doc.Statement = append(doc.Statement, s)
	}
	return doc, nil
}

func parseStatement(b []byte) (Statement, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return Statement{}, errors.New("must be an object")
	}
	var s Statement
	for name, raw := range m {
		var err error
		switch name {
		case "Sid":
			err = json.Unmarshal(raw, &s.Sid)
		case "Effect":
			err = json.Unmarshal(raw, &s.Effect)
		case "Action":
			err = s.Action.UnmarshalJSON(raw)
		case "Resource":
			err = s.Resource.UnmarshalJSON(raw)
		default:
			return Statement{}, fmt.Errorf("%q is not supported (Sid, Effect, Action, Resource)", name)
		}
		if err != nil {
			return Statement{}, fmt.Errorf("%s: %v", name, err)
		}
	}
	return s, nil
}

// Validate reports the first problem that would make API Gateway refuse the answer:
// the checks of [ParseResponse] on an answer built in Go, its JSON encoding included.
func (r Response) Validate() error {
	if err := r.validate(); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("authorizer result cannot be encoded: %w", err)
	}
	if len(b) > MaxResultBytes {
		return fmt.Errorf("authorizer result of %d bytes exceeds %d", len(b), MaxResultBytes)
	}
	return nil
}

func (r Response) validate() error {
	if !utf8.ValidString(r.PrincipalID) {
		return errors.New("principalId: not valid UTF-8")
	}
	p := r.PolicyDocument
	if p.Version != PolicyVersion && p.Version != "2008-10-17" {
		return fmt.Errorf("policyDocument.Version: %q is not 2012-10-17", p.Version)
	}
	if len(p.Statement) == 0 {
		return errors.New("policyDocument.Statement: no statement")
	}
	for i, s := range p.Statement {
		if s.Effect != EffectAllow && s.Effect != EffectDeny {
			return fmt.Errorf("policyDocument.Statement[%d].Effect: %q is not Allow or Deny", i, s.Effect)
		}
		if len(s.Action) == 0 {
			return fmt.Errorf("policyDocument.Statement[%d].Action: missing", i)
		}
		if len(s.Resource) == 0 {
			return fmt.Errorf("policyDocument.Statement[%d].Resource: missing", i)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Context)) {
		switch v := r.Context[k].(type) {
		case string, bool, float64, float32, json.Number,
			int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		case nil:
			return fmt.Errorf("context.%s: null is not a string, number or boolean", k)
		default:
			return fmt.Errorf("context.%s: %s is not a string, number or boolean", k, kindOf(v))
		}
	}
	return nil
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Allows reports whether the policy allows execute-api:Invoke on methodArn: some Allow
// statement covers it and no Deny statement does (an explicit Deny wins, as in IAM).
// Resource patterns use IAM's wildcards: * matches any run of characters (slashes and
// colons included), ? exactly one; they are case-sensitive. Action patterns match
// "execute-api:Invoke" case-insensitively with the same wildcards (execute-api:*, *).
func (p PolicyDocument) Allows(methodArn string) bool {
	allowed := false
	for _, s := range p.Statement {
		if !s.covers(methodArn) {
			continue
		}
		switch s.Effect {
		case EffectDeny:
			return false
		case EffectAllow:
			allowed = true
		}
	}
	return allowed
}

func (s Statement) covers(methodArn string) bool {
	action := slices.ContainsFunc(s.Action, func(a string) bool {
		return wildcardMatch(strings.ToLower(a), strings.ToLower(ActionInvoke))
	})
	return action && slices.ContainsFunc(s.Resource, func(r string) bool { return wildcardMatch(r, methodArn) })
}

// wildcardMatch reports whether s matches pattern, where * matches any run of characters
// and ? exactly one character. It runs in O(len(pattern)·len(s)) at worst.
func wildcardMatch(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	pi, ti := 0, 0
	star, mark := -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]) && p[pi] != '*':
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
