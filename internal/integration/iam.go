package integration

// IAMIdentity is who signed the handshake of a connection whose $connect is AWS_IAM:
// the $context.identity fields API Gateway fills for an IAM caller, on every event of
// the connection.
type IAMIdentity struct {
	AccessKey string // $context.identity.accessKey
	AccountID string // $context.identity.accountId
	Caller    string // $context.identity.caller
	User      string // $context.identity.user
	UserArn   string // $context.identity.userArn
}

// iamIdentityJSON is the IAM part of a proxy event's requestContext.identity; the
// cognito* fields are null for an IAM caller, as API Gateway sends them. Embedded by
// pointer in proxyIdentity, so that a connection without IAM has none of these keys.
type iamIdentityJSON struct {
	AccessKey                     string  `json:"accessKey"`
	AccountID                     string  `json:"accountId"`
	Caller                        string  `json:"caller"`
	CognitoAuthenticationProvider *string `json:"cognitoAuthenticationProvider"`
	CognitoAuthenticationType     *string `json:"cognitoAuthenticationType"`
	CognitoIdentityID             *string `json:"cognitoIdentityId"`
	CognitoIdentityPoolID         *string `json:"cognitoIdentityPoolId"`
	User                          string  `json:"user"`
	UserArn                       string  `json:"userArn"`
}

func newIAMIdentityJSON(id *IAMIdentity) *iamIdentityJSON {
	if id == nil {
		return nil
	}
	return &iamIdentityJSON{AccessKey: id.AccessKey, AccountID: id.AccountID, Caller: id.Caller, User: id.User, UserArn: id.UserArn}
}

// identityVars is $context.identity for templates and request parameters.
func (req *Request) identityVars() map[string]any {
	m := map[string]any{"sourceIp": req.SourceIP, "userAgent": req.UserAgent}
	if id := req.IAM; id != nil {
		m["accessKey"], m["accountId"], m["caller"], m["user"], m["userArn"] = id.AccessKey, id.AccountID, id.Caller, id.User, id.UserArn
	}
	return m
}
