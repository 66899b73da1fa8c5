package authorizer

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
	"github.com/wsgate/wsgate/internal/mgmt"
)

// IAM is AWS_IAM authorization on $connect: the handshake must be signed with SigV4 for
// the service execute-api and the gateway's region, with one of Server.Iam.Credentials,
// either in a presigned URL's query string (what a browser can do) or in the
// Authorization header. The signature is verified by the same code as @connections'
// (mgmt.Verifier). There is no IAM policy: any configured key may connect.
type IAM struct {
	v   *mgmt.Verifier
	ids map[string]*integration.IAMIdentity // access key id → who it is
}

// IAMError is a handshake AWS_IAM refuses: Unsigned when it carries no signature at all,
// Message the text the client is sent (AWS's where known), Err the cause for the log,
// which names at most the access key id.
type IAMError struct {
	Unsigned bool
	Message  string
	Err      error
}

func (e *IAMError) Error() string { return "aws_iam: " + e.Message + ": " + e.Err.Error() }
func (e *IAMError) Unwrap() error { return e.Err }

// NewIAM builds AWS_IAM authorization from cfg's Server.Iam.Credentials, reading each
// secret from the environment variable its SecretAccessKeyEnv names; now is the clock
// (nil: time.Now). Its errors name the config field.
func NewIAM(cfg *config.Config, getenv func(string) string, now func() time.Time) (*IAM, error) {
	var errs []error
	creds := make([]mgmt.Credential, 0, len(cfg.Server.IAM.Credentials))
	ids := make(map[string]*integration.IAMIdentity, len(cfg.Server.IAM.Credentials))
	for i, c := range cfg.Server.IAM.Credentials {
		secret := getenv(c.SecretAccessKeyEnv)
		if secret == "" {
			errs = append(errs, fmt.Errorf("Server.Iam.Credentials[%d].SecretAccessKeyEnv: the environment variable %s is empty", i, c.SecretAccessKeyEnv))
			continue
		}
		creds = append(creds, mgmt.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: secret})
		account := c.AccountID
		if account == "" {
			account = cfg.Server.AccountID
		}
		ids[c.AccessKeyID] = &integration.IAMIdentity{AccessKey: c.AccessKeyID, AccountID: account, Caller: c.Caller, User: c.User, UserArn: c.UserArn}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	v, err := mgmt.NewVerifier(cfg.Server.Region, creds, now)
	if err != nil {
		return nil, fmt.Errorf("Server.Iam.Credentials: %w", err)
	}
	return &IAM{v: v, ids: ids}, nil
}

// VerifyIAM checks r's signature and returns who made it, or an *IAMError.
func (a *IAM) VerifyIAM(r *http.Request) (*integration.IAMIdentity, error) {
	key, err := a.v.Verify(r)
	if err != nil {
		e := &IAMError{Unsigned: errors.Is(err, mgmt.ErrUnsigned), Message: "Forbidden", Err: err}
		var me *mgmt.Error
		if errors.As(err, &me) {
			e.Message = me.Message
		}
		return nil, e
	}
	return a.ids[key], nil
}
