// Package ssmsecret reads the JWT HMAC secret from an AWS SSM Parameter Store
// SecureString, cached with a TTL (cookieauth.SecretCache): create the SSM client once, at
// cold start, outside the Lambda handler, and reuse it.
package ssmsecret

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/wsgate/wsgate/cookieauth"
)

// Client is the part of *ssm.Client used here.
type Client interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

var _ Client = (*ssm.Client)(nil)

// New returns a key source holding the parameter's decrypted value, fetched now (a
// missing parameter or a denied read fails here) and again after ttl.
func New(ctx context.Context, c Client, name string, ttl time.Duration) (*cookieauth.SecretCache, error) {
	s := cookieauth.CachedSecret(func(ctx context.Context) ([]byte, error) {
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("ssm parameter %s: %w", name, err)
		}
		if out.Parameter == nil || out.Parameter.Value == nil {
			return nil, fmt.Errorf("ssm parameter %s: %w", name, errors.New("no value"))
		}
		return []byte(*out.Parameter.Value), nil
	}, cookieauth.CachedSecretOptions{TTL: ttl})
	if err := s.Prime(ctx); err != nil {
		return nil, err
	}
	return s, nil
}
