package lambdaauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// fakeSSM is an SSM client made of a function, counting calls.
type fakeSSM struct {
	calls atomic.Int64
	get   func(ctx context.Context, in *ssm.GetParameterInput) (*ssm.GetParameterOutput, error)
}

func (f *fakeSSM) GetParameter(ctx context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.calls.Add(1)
	return f.get(ctx, in)
}

// ssmServing is a fake SSM holding one SecureString parameter.
func ssmServing(name, value string) *fakeSSM {
	return &fakeSSM{get: func(_ context.Context, in *ssm.GetParameterInput) (*ssm.GetParameterOutput, error) {
		if aws.ToString(in.Name) != name || !aws.ToBool(in.WithDecryption) {
			return nil, &types.ParameterNotFound{Message: aws.String("parameter not found")}
		}
		return &ssm.GetParameterOutput{Parameter: &types.Parameter{Name: in.Name, Type: types.ParameterTypeSecureString, Value: aws.String(value), Version: 1}}, nil
	}}
}

// validEvent is a $connect event with a fresh token signed with key.
func validEvent(tb testing.TB, key string) (Event, string) {
	tb.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "user-42", "exp": time.Now().Add(10 * time.Minute).Unix(), "csrf": testCSRF,
	}).SignedString([]byte(key))
	if err != nil {
		tb.Fatal(err)
	}
	return connectEvent("JWT="+tok+"; CSRF-TOKEN="+testCSRF, testOrigin), tok
}

func TestNewFromEnv(t *testing.T) {
	const param = "/wsgate/dev/jwt-secret"
	for _, tc := range []struct {
		name string
		env  map[string]string
		// key signs the test token; "" means no invocation is tried.
		key string
	}{
		{name: "HMAC secret", env: minimalEnv(map[string]string{EnvCSRFClaim: "csrf"}), key: envSecret},
		{name: "HMAC secret from SSM", env: minimalEnv(map[string]string{EnvJWTHMACSecret: "<unset>", EnvJWTHMACSecretSSMParameter: param}), key: envSecret + "-ssm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := ssmServing(param, envSecret+"-ssm")
			var logs bytes.Buffer
			h, err := NewFromEnv(t.Context(), envOf(tc.env), Deps{SSM: fake, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			callsAtStart := fake.calls.Load()
			for range 3 {
				e, tok := validEvent(t, tc.key)
				resp, err := h.Handle(t.Context(), e)
				if err != nil {
					t.Fatalf("Handle: %v (log: %s)", err, logs.String())
				}
				if !resp.PolicyDocument.Allows(testArn) || resp.PrincipalID != "user-42" {
					t.Errorf("answer does not allow user-42: %+v", resp)
				}
				if strings.Contains(logs.String(), tok) {
					t.Error("log holds the token")
				}
			}
			if got := fake.calls.Load(); got != callsAtStart {
				t.Errorf("SSM read %d times while handling, want 0 (cached since cold start)", got-callsAtStart)
			}
			wantAtStart := int64(0)
			if tc.env[EnvJWTHMACSecretSSMParameter] != "" {
				wantAtStart = 1
			}
			if callsAtStart != wantAtStart {
				t.Errorf("SSM read %d times at cold start, want %d", callsAtStart, wantAtStart)
			}
		})
	}
}

func TestNewFromEnvErrors(t *testing.T) {
	const param = "/wsgate/dev/jwt-secret"
	down := &fakeSSM{get: func(context.Context, *ssm.GetParameterInput) (*ssm.GetParameterOutput, error) {
		return nil, errors.New("api error AccessDeniedException: not allowed")
	}}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		ssm        *fakeSSM
		wantPrefix string
	}{
		{name: "configuration error", env: minimalEnv(map[string]string{EnvJWTAlgorithms: "<unset>"}), wantPrefix: "WSGATE_JWT_ALGORITHMS: required"},
		{name: "HMAC secret too short", env: minimalEnv(map[string]string{EnvJWTHMACSecret: "short-secret"}), wantPrefix: "WSGATE_JWT_HMAC_SECRET: "},
		{name: "RS256 with an HMAC secret", env: minimalEnv(map[string]string{EnvJWTAlgorithms: "RS256"}), wantPrefix: "WSGATE_JWT_ALGORITHMS: RS256 cannot be verified"},
		{name: "SSM down at cold start", env: minimalEnv(map[string]string{EnvJWTHMACSecret: "<unset>", EnvJWTHMACSecretSSMParameter: param}), ssm: down, wantPrefix: "WSGATE_JWT_HMAC_SECRET_SSM_PARAMETER: "},
		{name: "SSM parameter missing", env: minimalEnv(map[string]string{EnvJWTHMACSecret: "<unset>", EnvJWTHMACSecretSSMParameter: "/other"}), ssm: ssmServing(param, envSecret), wantPrefix: "WSGATE_JWT_HMAC_SECRET_SSM_PARAMETER: "},
		{name: "PEM not a key", env: minimalEnv(map[string]string{EnvJWTHMACSecret: "<unset>", EnvJWTAlgorithms: "ES256", EnvJWTPublicKeyPEM: "not a pem"}), wantPrefix: "WSGATE_JWT_PUBLIC_KEY_PEM: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deps := Deps{Logger: slog.New(slog.DiscardHandler)}
			if tc.ssm != nil {
				deps.SSM = tc.ssm
			}
			h, err := NewFromEnv(t.Context(), envOf(tc.env), deps)
			if err == nil {
				t.Fatal("no error")
			}
			if h != nil {
				t.Error("a handler along with the error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.wantPrefix) {
				t.Errorf("error = %q, want it to start with %q", msg, tc.wantPrefix)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			if s := tc.env[EnvJWTHMACSecret]; s != "" && strings.Contains(msg, s) {
				t.Errorf("error holds the secret: %q", msg)
			}
		})
	}
}

func TestNewFromEnvDefaultLogger(t *testing.T) {
	h, err := NewFromEnv(t.Context(), envOf(minimalEnv(nil)), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(true, h.logger.Enabled(t.Context(), slog.LevelInfo)); diff != "" {
		t.Errorf("default logger drops decisions (-want +got):\n%s", diff)
	}
}
