// Package mgmt serves the @connections management API of a WebSocket API: the HTTP
// surface that backends call (through the AWS SDKs' apigatewaymanagementapi clients) to
// post to, describe and close client connections. Requests are authenticated with AWS
// Signature Version 4 for the service "execute-api" and answered in the restJson1 shapes
// and error types that the SDKs decode. Where the connections live is the business of
// the [cluster.Connections] it is given.
package mgmt

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/wsgate/wsgate/internal/cluster"
)

// DefaultMaxPayload is the largest POST body accepted when Options.MaxPayload is 0.
const DefaultMaxPayload = cluster.DefaultMaxPayload

// Credential is a SigV4 access key that may call the API.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
}

// Options configures the handler returned by [New].
type Options struct {
	// Connections answers the operations. Required.
	Connections cluster.Connections
	// Stage is the stage name: requests are served at /{Stage}/@connections/{id}, and at
	// /@connections/{id} (a custom domain whose API mapping key is empty). Required.
	Stage string
	// Region is the SigV4 region requests must be signed for; "" accepts any region in
	// the credential scope.
	Region string
	// Credentials are the SigV4 keys accepted. Empty is valid only with AllowUnsigned.
	Credentials []Credential
	// AllowUnsigned accepts requests without an Authorization header (development only).
	// Requests that do carry one are still verified.
	AllowUnsigned bool
	// MaxPayload is the largest POST body in bytes; 0 means DefaultMaxPayload.
	MaxPayload int
	// Logger receives one line per failed request; nil discards.
	Logger *slog.Logger
	// Now is the clock for the X-Amz-Date check; nil means time.Now.
	Now func() time.Time
}

// stageName is what API Gateway accepts as a stage name.
var stageName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// server holds the validated options of one @connections API.
type server struct {
	conns         cluster.Connections
	stage         string
	region        string
	secrets       map[string]string // access key id → secret access key
	allowUnsigned bool
	maxPayload    int
	log           *slog.Logger
	now           func() time.Time
	keys          keyCache
}

// New returns the @connections API described by o. Every response it writes carries an
// x-amzn-RequestId. The error names the invalid field.
func New(o Options) (http.Handler, error) {
	if o.Connections == nil {
		return nil, errors.New("mgmt: Connections is required")
	}
	if !stageName.MatchString(o.Stage) {
		return nil, fmt.Errorf("mgmt: Stage %q must be 1-128 letters, digits, '-' or '_'", o.Stage)
	}
	if o.MaxPayload < 0 {
		return nil, fmt.Errorf("mgmt: MaxPayload %d must not be negative", o.MaxPayload)
	}
	if len(o.Credentials) == 0 && !o.AllowUnsigned {
		return nil, errors.New("mgmt: Credentials is empty and AllowUnsigned is false: no request could be served")
	}
	s := &server{
		conns:         o.Connections,
		stage:         o.Stage,
		region:        o.Region,
		secrets:       make(map[string]string, len(o.Credentials)),
		allowUnsigned: o.AllowUnsigned,
		maxPayload:    o.MaxPayload,
		log:           o.Logger,
		now:           o.Now,
	}
	for i, c := range o.Credentials {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return nil, fmt.Errorf("mgmt: Credentials[%d] needs both AccessKeyID and SecretAccessKey", i)
		}
		if _, dup := s.secrets[c.AccessKeyID]; dup {
			return nil, fmt.Errorf("mgmt: Credentials[%d]: duplicate AccessKeyID %q", i, c.AccessKeyID)
		}
		s.secrets[c.AccessKeyID] = c.SecretAccessKey
	}
	if s.maxPayload == 0 {
		s.maxPayload = DefaultMaxPayload
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return withRequestID(s.routes()), nil
}
