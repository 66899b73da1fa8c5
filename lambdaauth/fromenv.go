package lambdaauth

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/wsgate/wsgate/cookieauth"
	"github.com/wsgate/wsgate/cookieauth/ssmsecret"
)

// SSMSecretTTL is how long the HMAC secret read from SSM is kept before it is read again.
const SSMSecretTTL = 5 * time.Minute

// Deps are what [NewFromEnv] uses besides the environment. Zero fields get production
// defaults.
type Deps struct {
	// Logger receives one line per decision. Default: JSON lines on standard output
	// (CloudWatch Logs).
	Logger *slog.Logger
	// SSM reads the HMAC secret's parameter. Default: an SSM client from the default
	// AWS configuration, created once and only when EnvJWTHMACSecretSSMParameter is set.
	SSM ssmsecret.Client
}

// NewFromEnv builds the authorizer Lambda's Handler from the WSGATE_* environment
// variables (see the Env* constants), read with getenv. It verifies the configuration
// and gets the verification key now, at cold start, so a Lambda that cannot decide
// fails to start rather than answering 500s: a secret in SSM is read here once and
// then cached for SSMSecretTTL, never read per request. The error is one line naming
// the variable at fault and the reason, never a secret's value.
func NewFromEnv(ctx context.Context, getenv func(string) string, deps Deps) (*Handler, error) {
	s, err := parseEnv(getenv)
	if err != nil {
		return nil, err
	}
	keys, err := keySource(ctx, s, deps)
	if err != nil {
		return nil, err
	}
	a, err := cookieauth.New(s.auth, keys)
	if err != nil {
		return nil, configError(err)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	return New(a, logger), nil
}

// keySource builds the key source the settings select; a secret in SSM is read now.
func keySource(ctx context.Context, s settings, deps Deps) (cookieauth.KeySource, error) {
	keys, err := cookieauth.NewKeySource(ctx, s.keys, cookieauth.KeyDeps{
		Parameter: func(ctx context.Context, name string) (cookieauth.KeySource, error) {
			client := deps.SSM
			if client == nil {
				cfg, err := config.LoadDefaultConfig(ctx)
				if err != nil {
					return nil, fmt.Errorf("AWS configuration: %v", err)
				}
				client = ssm.NewFromConfig(cfg)
			}
			return ssmsecret.New(ctx, client, name, SSMSecretTTL)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.keyVar, err)
	}
	return keys, nil
}
