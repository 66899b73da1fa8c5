package integration

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestIAMIdentityInEvents: an AWS_IAM connection's proxy events carry the IAM caller's
// identity keys with the cognito ones null, as API Gateway sends them; without IAM none
// of these keys is present. Templates see the same fields.
func TestIAMIdentityInEvents(t *testing.T) {
	req := &Request{RouteKey: "$default", EventType: EventMessage, ConnectedAt: time.Unix(1, 0), RequestTime: time.Unix(2, 0),
		SourceIP: "192.0.2.1", UserAgent: "ua",
		IAM: &IAMIdentity{AccessKey: "AKID", AccountID: "123456789012", Caller: "AIDA1", User: "AIDA1", UserArn: "arn:aws:iam::123456789012:user/a"}}
	identity := func(r *Request) map[string]any {
		b, err := json.Marshal(newProxyEvent(r))
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			RequestContext struct {
				Identity map[string]any `json:"identity"`
			} `json:"requestContext"`
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		return ev.RequestContext.Identity
	}
	want := map[string]any{
		"accessKey": "AKID", "accountId": "123456789012", "caller": "AIDA1", "user": "AIDA1", "userArn": "arn:aws:iam::123456789012:user/a",
		"cognitoAuthenticationProvider": nil, "cognitoAuthenticationType": nil, "cognitoIdentityId": nil, "cognitoIdentityPoolId": nil,
		"sourceIp": "192.0.2.1", "userAgent": "ua",
	}
	if diff := cmp.Diff(want, identity(req)); diff != "" {
		t.Errorf("IAM identity (-want +got):\n%s", diff)
	}
	if v, ok := req.ContextValue("identity.userArn"); !ok || v != "arn:aws:iam::123456789012:user/a" {
		t.Errorf("$context.identity.userArn = %q, %v", v, ok)
	}
	req.IAM = nil
	if diff := cmp.Diff(map[string]any{"sourceIp": "192.0.2.1", "userAgent": "ua"}, identity(req)); diff != "" {
		t.Errorf("identity without IAM (-want +got):\n%s", diff)
	}
	if _, ok := req.ContextValue("identity.accessKey"); ok {
		t.Error("$context.identity.accessKey is set without IAM")
	}
}
