package cookieauth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySpec says where an Authorizer's verification keys come from. Exactly one field
// is meant to be set; when several are, the first in the order below wins (callers
// check "exactly one" themselves, naming their own settings). It is the shape the
// gateway's configuration (Cookie.Key) and the Lambda's environment (WSGATE_JWT_*)
// share: both build their key source with [NewKeySource].
type KeySpec struct {
	// HMACSecret is the HMAC secret itself.
	HMACSecret []byte
	// HMACSecretEnv names an environment variable holding the HMAC secret, read with
	// KeyDeps.Getenv.
	HMACSecretEnv string
	// HMACSecretFile is a file holding the HMAC secret; trailing CR and LF are dropped.
	HMACSecretFile string
	// HMACSecretParameter names a parameter of a secret store holding the HMAC secret,
	// read with KeyDeps.Parameter (package ssmsecret reads SSM Parameter Store).
	HMACSecretParameter string
	// PublicKeyPEM is a PEM public key or certificate (see [PublicKeyPEM]).
	PublicKeyPEM []byte
	// PublicKeyFile is a file holding a PEM public key or certificate.
	PublicKeyFile string
	// JWKSURL is the URL of a JWKS (see [JWKS]).
	JWKSURL string
}

// KeyDeps are what [NewKeySource] reads keys with.
type KeyDeps struct {
	// Getenv reads KeySpec.HMACSecretEnv. Default os.Getenv.
	Getenv func(string) string
	// Parameter returns the key source of KeySpec.HMACSecretParameter, its secret
	// fetched now so that a missing parameter fails here. Required only with that
	// field: the store's client stays out of this package.
	Parameter func(ctx context.Context, name string) (KeySource, error)
}

// NewKeySource builds the key source spec names. A file or environment variable is
// read now, a JWKS fetched now. Errors about an environment variable or a file name it
// as the gateway's configuration spells the field (HmacSecretEnv, HmacSecretFile,
// PublicKeyFile); the others are those of [HMACSecret], [PublicKeyPEM], [JWKS] and
// KeyDeps.Parameter. None holds a secret.
func NewKeySource(ctx context.Context, spec KeySpec, deps KeyDeps) (KeySource, error) {
	switch {
	case len(spec.HMACSecret) > 0:
		return HMACSecret(spec.HMACSecret)
	case spec.HMACSecretEnv != "":
		getenv := deps.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		v := getenv(spec.HMACSecretEnv)
		if v == "" {
			return nil, fmt.Errorf("HmacSecretEnv: the environment variable %s is empty", spec.HMACSecretEnv)
		}
		return HMACSecret([]byte(v))
	case spec.HMACSecretFile != "":
		b, err := os.ReadFile(spec.HMACSecretFile)
		if err != nil {
			return nil, fmt.Errorf("HmacSecretFile: %w", err)
		}
		return HMACSecret([]byte(strings.TrimRight(string(b), "\r\n")))
	case spec.HMACSecretParameter != "":
		if deps.Parameter == nil {
			return nil, errors.New("no secret store to read the parameter from")
		}
		return deps.Parameter(ctx, spec.HMACSecretParameter)
	case len(spec.PublicKeyPEM) > 0:
		return PublicKeyPEM(spec.PublicKeyPEM)
	case spec.PublicKeyFile != "":
		b, err := os.ReadFile(spec.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("PublicKeyFile: %w", err)
		}
		return PublicKeyPEM(b)
	case spec.JWKSURL != "":
		return JWKS(ctx, spec.JWKSURL)
	}
	return nil, errors.New("no key source")
}
