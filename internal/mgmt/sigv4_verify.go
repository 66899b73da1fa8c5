package mgmt

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Verifier checks the SigV4 signature (service execute-api) of a request that has no
// body, such as a WebSocket opening handshake, in either form a client may use: the
// Authorization header, or the query string of a presigned URL (X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature,
// and X-Amz-Security-Token when the credentials are temporary). Browsers cannot set
// headers on a WebSocket handshake, so a presigned URL is their only way.
//
// It shares the header parser, the canonical request and the key derivation with the
// @connections API, so a signature either accepts is computed the same way. There is no
// SigV4 verifier among the Go modules we can use (the AWS SDK only signs), which is why
// this is written by hand.
type Verifier struct {
	region  string
	secrets map[string]string
	now     func() time.Time
	keys    keyCache
}

// ErrUnsigned is the cause of a *Error from [Verifier.Verify] for a request that carries
// no signature at all (neither an Authorization header nor X-Amz-Signature).
var ErrUnsigned = errors.New("request is not signed")

// The payload hashes a bodiless request may be signed with: the SHA-256 of nothing (what
// the Go and JS SDKs sign a GET with) and UNSIGNED-PAYLOAD (what some presigners use).
const (
	emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	unsignedPayload  = "UNSIGNED-PAYLOAD"
)

// maxPresignExpiry is the longest X-Amz-Expires SigV4 allows: seven days.
const maxPresignExpiry = 7 * 24 * time.Hour

// NewVerifier returns a Verifier accepting creds for region ("" accepts any region in
// the credential scope); now is its clock, nil meaning time.Now.
func NewVerifier(region string, creds []Credential, now func() time.Time) (*Verifier, error) {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{region: region, secrets: make(map[string]string, len(creds)), now: now}
	for i, c := range creds {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return nil, fmt.Errorf("mgmt: Credentials[%d] needs both AccessKeyID and SecretAccessKey", i)
		}
		if _, dup := v.secrets[c.AccessKeyID]; dup {
			return nil, fmt.Errorf("mgmt: Credentials[%d]: duplicate AccessKeyID %q", i, c.AccessKeyID)
		}
		v.secrets[c.AccessKeyID] = c.SecretAccessKey
	}
	return v, nil
}

// Verify checks r's signature and returns the access key id that made it. Every error
// is an *Error whose Message is safe for the client (it never quotes the signature) and
// whose cause names at most the access key id; a request with no signature at all has
// the cause ErrUnsigned.
func (v *Verifier) Verify(r *http.Request) (accessKeyID string, err error) {
	// A malformed query still names the parameters it has (verifyQuery then refuses it).
	q, _ := url.ParseQuery(r.URL.RawQuery)
	presigned := q.Has("X-Amz-Signature") || q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential")
	headers := r.Header.Values("Authorization")
	switch {
	case presigned && len(headers) > 0:
		return "", newError(CodeIncompleteSignature, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.",
			errors.New("signed both in the query string and the Authorization header"))
	case presigned:
		return v.verifyQuery(r)
	case len(headers) == 0:
		return "", newError(CodeMissingAuthenticationToken, msgMissingAuth, ErrUnsigned)
	}
	s := &server{region: v.region, secrets: v.secrets, now: v.now}
	sr, err := s.checkHeaders(r)
	if err != nil {
		return "", err
	}
	hashes := []string{emptyPayloadHash, unsignedPayload}
	if sr.claimed != "" {
		hashes = []string{sr.claimed}
	} else if c := r.Header.Values("X-Amz-Content-Sha256"); len(c) == 1 && c[0] == unsignedPayload {
		hashes = []string{unsignedPayload}
	}
	if !matchesAny(sr.key, sr.auth, sr.amzDate, r, hashes) {
		return "", newError(CodeInvalidSignature, msgBadSignature, fmt.Errorf("key %s: signature mismatch", sr.auth.AccessKeyID))
	}
	return sr.auth.AccessKeyID, nil
}

// matchesAny reports whether a's signature is that of r's canonical request under one of
// the payload hashes, each compared in constant time; every hash is tried, so the time
// taken does not say which one matched.
func matchesAny(key []byte, a authorization, amzDate string, r *http.Request, hashes []string) bool {
	ok := false
	for _, h := range hashes {
		want := signHash(key, a, amzDate, canonicalHash(r, a.SignedHeaders, h))
		if hmac.Equal([]byte(want), []byte(a.Signature)) {
			ok = true
		}
	}
	return ok
}

// Presigned is the SigV4 part of a presigned URL's query string.
type Presigned struct {
	auth    authorization
	AmzDate string        // X-Amz-Date, YYYYMMDD'T'HHMMSS'Z'
	Date    time.Time     // X-Amz-Date parsed
	Expires time.Duration // X-Amz-Expires
	// SecurityToken is X-Amz-Security-Token, "" when absent (long-term credentials).
	SecurityToken string
}

// AccessKeyID is the access key id of the credential scope.
func (p *Presigned) AccessKeyID() string { return p.auth.AccessKeyID }

// PresignParams are the query parameters a presigned URL's signature consists of.
var PresignParams = []string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
}

// ParsePresigned parses the SigV4 parameters of a presigned URL's query string q. Each
// must appear once (X-Amz-Security-Token may be absent). Every error is an *Error whose
// Message never quotes the query.
func ParsePresigned(q url.Values) (*Presigned, error) {
	incomplete := func(msg string) error {
		return newError(CodeIncompleteSignature, msg, errors.New("malformed presigned query"))
	}
	get := func(name string, required bool) (string, error) {
		vs := q[name]
		switch {
		case len(vs) > 1:
			return "", incomplete("Query parameter '" + name + "' must appear once.")
		case len(vs) == 0 && required:
			return "", incomplete("AWS query-string parameters must include '" + name + "'. Re-examine the query-string parameters.")
		case len(vs) == 0:
			return "", nil
		}
		return vs[0], nil
	}
	var vals [7]string
	for i, name := range PresignParams {
		v, err := get(name, i < 6)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	alg, cred, date, expires, signed, sig, token := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6]
	if alg != sigAlgorithm {
		return nil, incomplete("X-Amz-Algorithm only supports \"" + sigAlgorithm + "\".")
	}
	p := &Presigned{AmzDate: date, SecurityToken: token}
	fields := strings.Split(cred, "/")
	if len(fields) != 5 || fields[4] != sigTerminal {
		return nil, incomplete("X-Amz-Credential must have the form AccessKeyId/YYYYMMDD/region/service/aws4_request.")
	}
	a := authorization{AccessKeyID: fields[0], Date: fields[1], Region: fields[2], Service: fields[3]}
	if a.AccessKeyID == "" || a.Region == "" {
		return nil, incomplete("X-Amz-Credential must name an access key and a region.")
	}
	if _, err := time.Parse("20060102", a.Date); err != nil || len(a.Date) != 8 {
		return nil, incomplete("X-Amz-Credential date must be YYYYMMDD.")
	}
	if a.Service != sigService {
		return nil, incomplete("Credential should be scoped to correct service: '" + sigService + "'.")
	}
	t, err := time.Parse(amzDateFmt, date)
	if err != nil || len(date) != len(amzDateFmt) {
		return nil, incomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".")
	}
	p.Date = t
	if a.Date != date[:8] {
		return nil, newError(CodeInvalidSignature, "Date in Credential scope does not match YYYYMMDD from X-Amz-Date.",
			fmt.Errorf("key %s: scope date mismatch", a.AccessKeyID))
	}
	n, err := strconv.ParseUint(expires, 10, 32)
	if err != nil || strings.TrimLeft(expires, "0123456789") != "" || n < 1 || time.Duration(n)*time.Second > maxPresignExpiry {
		return nil, incomplete("X-Amz-Expires must be a whole number of seconds from 1 to 604800 (seven days).")
	}
	p.Expires = time.Duration(n) * time.Second
	if signed == "" {
		return nil, incomplete("X-Amz-SignedHeaders must name the signed headers.")
	}
	a.SignedHeaders = strings.Split(signed, ";")
	for i, name := range a.SignedHeaders {
		if name == "" || strings.ToLower(name) != name || !validHeaderName(name) || slices.Contains(a.SignedHeaders[:i], name) {
			return nil, incomplete("X-Amz-SignedHeaders must be distinct lowercase header names separated by ';'.")
		}
	}
	if !slices.Contains(a.SignedHeaders, "host") {
		return nil, newError(CodeInvalidSignature, "'Host' must be a 'SignedHeader' in the AWS Authorization.",
			fmt.Errorf("key %s: host not signed", a.AccessKeyID))
	}
	if !isHexSHA256(sig) {
		return nil, incomplete("X-Amz-Signature must be 64 lowercase hex digits.")
	}
	if _, err := hex.DecodeString(sig); err != nil {
		return nil, incomplete("X-Amz-Signature must be 64 lowercase hex digits.")
	}
	a.Signature = sig
	p.auth = a
	return p, nil
}

// verifyQuery checks the signature of a presigned request: its parameters, the scope,
// a known key, the validity window (from X-Amz-Date, no more than the skew in the
// future, until X-Amz-Date + X-Amz-Expires), then the signature over the canonical
// request without X-Amz-Signature.
func (v *Verifier) verifyQuery(r *http.Request) (string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", newError(CodeIncompleteSignature, "The query string is malformed.", errors.New("unparsable query"))
	}
	p, err := ParsePresigned(q)
	if err != nil {
		return "", err
	}
	a := p.auth
	secret, ok := v.secrets[a.AccessKeyID]
	if !ok {
		return "", newError(CodeUnrecognizedClient, msgUnknownKey, fmt.Errorf("unknown access key id %q", a.AccessKeyID))
	}
	if v.region != "" && a.Region != v.region {
		return "", newError(CodeInvalidSignature, "Credential should be scoped to a valid region.",
			fmt.Errorf("key %s: region %q, want %q", a.AccessKeyID, a.Region, v.region))
	}
	for _, name := range a.SignedHeaders {
		if !hasHeader(r, name) {
			return "", newError(CodeInvalidSignature, msgBadSignature, fmt.Errorf("key %s: signed header %q absent", a.AccessKeyID, name))
		}
	}
	now := v.now().UTC()
	if p.Date.After(now.Add(maxSkew)) {
		return "", newError(CodeInvalidSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)",
			p.AmzDate, now.Add(maxSkew).Format(amzDateFmt), now.Format(amzDateFmt)),
			fmt.Errorf("key %s: signature not yet current", a.AccessKeyID))
	}
	if end := p.Date.Add(p.Expires); now.After(end) {
		return "", newError(CodeInvalidSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s.",
			end.Format(amzDateFmt), now.Format(amzDateFmt)), fmt.Errorf("key %s: presigned URL expired", a.AccessKeyID))
	}
	// The canonical query is the query without X-Amz-Signature, as the signer saw it.
	parts := strings.Split(r.URL.RawQuery, "&")
	kept := parts[:0:0]
	for _, part := range parts {
		k, _, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == "X-Amz-Signature" {
			continue
		}
		kept = append(kept, part)
	}
	u := *r.URL
	u.RawQuery = strings.Join(kept, "&")
	r2 := r.WithContext(r.Context())
	r2.URL = &u
	hashes := []string{emptyPayloadHash, unsignedPayload}
	if c := r.Header.Values("X-Amz-Content-Sha256"); len(c) == 1 && (c[0] == emptyPayloadHash || c[0] == unsignedPayload) {
		hashes = []string{c[0]}
	}
	if !matchesAny(v.keys.get(secret, a), a, p.AmzDate, r2, hashes) {
		return "", newError(CodeInvalidSignature, msgBadSignature, fmt.Errorf("key %s: signature mismatch", a.AccessKeyID))
	}
	return a.AccessKeyID, nil
}
