package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/wsgate/wsgate/internal/authorizer"
	"github.com/wsgate/wsgate/internal/config"
)

// outcomeAPIKey is a $connect refused for a missing or unknown API key.
const outcomeAPIKey outcome = "api_key"

// APIKey is one key a $connect with ApiKeyRequired accepts: its name, for logs, and its
// value, a secret.
type APIKey struct {
	Name  string
	Value []byte
}

// apiKeys is what the gateway checks API keys against: the SHA-256 of each key, so that
// every comparison is of 32 bytes and takes the same time whatever the lengths.
type apiKeys struct {
	required       bool // Routes.$connect.ApiKeyRequired
	fromAuthorizer bool // Api.ApiKeySelectionExpression is $context.authorizer.usageIdentifierKey
	names          []string
	sums           [][sha256.Size]byte
}

func newAPIKeys(c *config.Config, keys []APIKey) *apiKeys {
	a := &apiKeys{
		required:       c.Routes[config.RouteConnect].APIKeyRequired,
		fromAuthorizer: c.API.APIKeySource() == config.APIKeyFromAuthorizer,
	}
	for _, k := range keys {
		a.names = append(a.names, k.Name)
		a.sums = append(a.sums, sha256.Sum256(k.Value))
	}
	return a
}

// match returns the name of the key whose value is presented, comparing with every key
// in constant time; ok is false when none is.
func (a *apiKeys) match(presented string) (name string, ok bool) {
	sum := sha256.Sum256([]byte(presented))
	found := -1
	for i := range a.sums {
		if subtle.ConstantTimeCompare(sum[:], a.sums[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 || presented == "" {
		return "", false
	}
	return a.names[found], true
}

// apiKeyRefused checks the API key of a $connect whose route has ApiKeyRequired, and
// refuses the handshake with 403 (API Gateway's status for a missing or invalid key)
// when it is missing or unknown. ServeHTTP calls it twice: before the authorizer with
// res nil, where a key from the x-api-key header is checked (a client without one never
// reaches the authorizer); and after an Allow with its result, where a key from the
// authorizer's usageIdentifierKey is. It reports whether it refused.
func (g *Gateway) apiKeyRefused(w http.ResponseWriter, r *http.Request, c *Conn, res *authorizer.Result, start time.Time) bool {
	a := g.apiKeys
	if a == nil || !a.required || a.fromAuthorizer != (res != nil) {
		return false
	}
	var presented string
	if res != nil {
		presented = res.UsageIdentifierKey
	} else if vs := r.Header.Values("X-Api-Key"); len(vs) == 1 {
		presented = vs[0]
	}
	name, ok := a.match(presented)
	if !ok {
		reason := "API key not accepted"
		if presented == "" {
			reason = "API key missing"
		}
		g.refuse(w, r, c, &refusal{status: http.StatusForbidden, outcome: outcomeAPIKey, reason: reason}, start)
		return true
	}
	g.log.Debug("connect: API key accepted", "requestId", c.connectRequestID, "apiKey", name)
	return false
}
