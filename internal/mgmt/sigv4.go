package mgmt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SigV4 verification of incoming requests (header form only; presigned URLs are not
// accepted, as the SDKs never use them for this API).
//
// The canonical request is rebuilt from what the client says it signed (SignedHeaders),
// not from a header set of our choosing, so any client that signs correctly is accepted.
// The path is the raw path of the request line, URI-encoded once more: every AWS service
// but S3 double-encodes, and both the Go v2 and the JS v3 SDK sign
// /dev/@connections/R1kmxc2VNjMCFIA%3D as /dev/%40connections/R1kmxc2VNjMCFIA%253D.

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	sigService   = "execute-api"
	sigTerminal  = "aws4_request"
	amzDateFmt   = "20060102T150405Z"
	maxSkew      = 5 * time.Minute
)

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	AccessKeyID   string
	Date          string   // the scope's YYYYMMDD
	Region        string   // the scope's region
	Service       string   // the scope's service
	SignedHeaders []string // lowercase names, in the client's order
	Signature     string   // lowercase hex, 64 characters
}

// scope is the credential scope, date/region/service/aws4_request.
func (a authorization) scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/" + sigTerminal
}

// errIncomplete is a malformed Authorization header; its text is safe for the client
// (it never quotes the header).
type errIncomplete string

func (e errIncomplete) Error() string { return string(e) }

// parseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>
//
// Parameters may come in any order, separated by commas and optional spaces. Every
// error is an errIncomplete.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != sigAlgorithm {
		return a, errIncomplete("Authorization header must use the " + sigAlgorithm + " algorithm.")
	}
	var cred, signed, sig string
	var seen [3]bool
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, errIncomplete("Authorization header parameters must be Key=Value.")
		}
		var i int
		var dst *string
		switch k {
		case "Credential":
			i, dst = 0, &cred
		case "SignedHeaders":
			i, dst = 1, &signed
		case "Signature":
			i, dst = 2, &sig
		default:
			return a, errIncomplete("Authorization header has an unknown parameter.")
		}
		if seen[i] {
			return a, errIncomplete("Authorization header repeats the '" + k + "' parameter.")
		}
		seen[i], *dst = true, v
	}
	for i, name := range []string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[i] {
			return a, errIncomplete(fmt.Sprintf(msgIncompleteAuthFmt, name))
		}
	}

	fields := strings.Split(cred, "/")
	if len(fields) != 5 || fields[4] != sigTerminal {
		return a, errIncomplete("Credential must have the form AccessKeyId/YYYYMMDD/region/service/aws4_request.")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = fields[0], fields[1], fields[2], fields[3]
	if a.AccessKeyID == "" || a.Region == "" {
		return a, errIncomplete("Credential must name an access key and a region.")
	}
	if _, err := time.Parse("20060102", a.Date); err != nil || len(a.Date) != 8 {
		return a, errIncomplete("Credential date must be YYYYMMDD.")
	}
	if a.Service != sigService {
		return a, errIncomplete("Credential should be scoped to correct service: '" + sigService + "'.")
	}

	if signed == "" {
		return a, errIncomplete(fmt.Sprintf(msgIncompleteAuthFmt, "SignedHeaders"))
	}
	a.SignedHeaders = strings.Split(signed, ";")
	for i, name := range a.SignedHeaders {
		if name == "" || strings.ToLower(name) != name || !validHeaderName(name) {
			return a, errIncomplete("SignedHeaders must be lowercase header names separated by ';'.")
		}
		if slices.Contains(a.SignedHeaders[:i], name) {
			return a, errIncomplete("SignedHeaders repeats a header.")
		}
	}

	if len(sig) != sha256.Size*2 || strings.ToLower(sig) != sig {
		return a, errIncomplete("Signature must be 64 lowercase hex digits.")
	}
	if _, err := hex.DecodeString(sig); err != nil {
		return a, errIncomplete("Signature must be 64 lowercase hex digits.")
	}
	a.Signature = sig
	return a, nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 tchar*).
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// signedRequest is a request whose Authorization header passed every check that does
// not need the body: its shape, the algorithm, the credential scope (date, region,
// service), a known access key, X-Amz-Date within the skew, the signed headers present.
// What is left is the signature, which covers the payload hash.
type signedRequest struct {
	auth    authorization
	key     []byte // the derived signing key of auth's scope
	amzDate string
	// claimed is the X-Amz-Content-Sha256 the client sent (64 lowercase hex digits), or
	// "" when it sent none: then the signature can only be checked once the body is read.
	claimed string
}

// checkHeaders runs every check of r's signature that can be made before its body is
// read. It returns nil and no error for an unsigned request while unsigned requests are
// allowed, and an *Error for a request that must be refused.
func (s *server) checkHeaders(r *http.Request) (*signedRequest, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		if s.allowUnsigned {
			return nil, nil
		}
		return nil, newError(CodeMissingAuthenticationToken, msgMissingAuth, errors.New("no Authorization header"))
	}
	if len(values) > 1 {
		return nil, newError(CodeIncompleteSignature, "Authorization header must appear once.", errors.New("several Authorization headers"))
	}
	a, err := parseAuthorization(values[0])
	if err != nil {
		return nil, newError(CodeIncompleteSignature, err.Error(), err)
	}
	secret, ok := s.secrets[a.AccessKeyID]
	if !ok {
		return nil, newError(CodeUnrecognizedClient, msgUnknownKey, fmt.Errorf("unknown access key id %q", a.AccessKeyID))
	}
	if s.region != "" && a.Region != s.region {
		return nil, newError(CodeInvalidSignature, "Credential should be scoped to a valid region.",
			fmt.Errorf("key %s: region %q, want %q", a.AccessKeyID, a.Region, s.region))
	}
	if !slices.Contains(a.SignedHeaders, "host") {
		return nil, newError(CodeInvalidSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
			fmt.Errorf("key %s: host not signed", a.AccessKeyID))
	}
	for _, name := range a.SignedHeaders {
		if !hasHeader(r, name) {
			// The client signed a header it did not send: the signature cannot match.
			return nil, newError(CodeInvalidSignature, msgBadSignature,
				fmt.Errorf("key %s: signed header %q absent", a.AccessKeyID, name))
		}
	}

	amzDate, t, err := requestTime(r)
	if err != nil {
		return nil, newError(CodeIncompleteSignature, err.Error(), err)
	}
	if a.Date != amzDate[:8] {
		return nil, newError(CodeInvalidSignature, fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			a.Date, amzDate[:8], amzDate), fmt.Errorf("key %s: scope date mismatch", a.AccessKeyID))
	}
	now := s.now().UTC()
	if t.Before(now.Add(-maxSkew)) {
		return nil, newError(CodeInvalidSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			amzDate, now.Add(-maxSkew).Format(amzDateFmt), now.Format(amzDateFmt)),
			fmt.Errorf("key %s: signature expired", a.AccessKeyID))
	}
	if t.After(now.Add(maxSkew)) {
		return nil, newError(CodeInvalidSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)",
			amzDate, now.Add(maxSkew).Format(amzDateFmt), now.Format(amzDateFmt)),
			fmt.Errorf("key %s: signature not yet current", a.AccessKeyID))
	}

	sr := &signedRequest{auth: a, key: s.keys.get(secret, a), amzDate: amzDate}
	switch claims := r.Header.Values("X-Amz-Content-Sha256"); {
	case len(claims) > 1:
		return nil, newError(CodeIncompleteSignature, "X-Amz-Content-Sha256 must appear once.",
			fmt.Errorf("key %s: several x-amz-content-sha256 headers", a.AccessKeyID))
	case len(claims) == 1:
		if !isHexSHA256(claims[0]) {
			return nil, newError(CodeInvalidSignature, "X-Amz-Content-Sha256 must be the hex SHA-256 of the payload.",
				fmt.Errorf("key %s: x-amz-content-sha256 is not a hex SHA-256", a.AccessKeyID))
		}
		sr.claimed = claims[0]
	}
	return sr, nil
}

// verify checks the signature of r over the payload hash (lowercase hex).
func (sr *signedRequest) verify(r *http.Request, payloadHash string) error {
	want := signHash(sr.key, sr.auth, sr.amzDate, canonicalHash(r, sr.auth.SignedHeaders, payloadHash))
	if !hmac.Equal([]byte(want), []byte(sr.auth.Signature)) {
		return newError(CodeInvalidSignature, msgBadSignature, fmt.Errorf("key %s: signature mismatch", sr.auth.AccessKeyID))
	}
	return nil
}

// checkBody checks the hash of the body that was read against the request: against the
// claimed X-Amz-Content-Sha256, whose signature was verified before the body was read,
// or, without one, by verifying the signature over it now.
func (sr *signedRequest) checkBody(r *http.Request, payloadHash string) error {
	if sr.claimed == "" {
		return sr.verify(r, payloadHash)
	}
	if !hmac.Equal([]byte(payloadHash), []byte(sr.claimed)) {
		// The header is a claim about the body; the body is what counts.
		return newError(CodeInvalidSignature, msgBadSignature,
			fmt.Errorf("key %s: x-amz-content-sha256 does not match the body", sr.auth.AccessKeyID))
	}
	return nil
}

// hasHeader reports whether r carries the header name (lowercase), as the canonical
// request reads it.
func hasHeader(r *http.Request, name string) bool {
	switch name {
	case "host":
		return r.Host != ""
	case "content-length":
		return r.ContentLength >= 0 || len(r.Header.Values(name)) > 0
	case "transfer-encoding":
		return len(r.TransferEncoding) > 0
	}
	return len(r.Header.Values(name)) > 0
}

// isHexSHA256 reports whether v is 64 lowercase hex digits.
func isHexSHA256(v string) bool {
	if len(v) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// requestTime is the signing time from X-Amz-Date, or from Date when that is absent, in
// ISO 8601 basic form and parsed.
func requestTime(r *http.Request) (string, time.Time, error) {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(amzDateFmt, v)
		if err != nil {
			return "", time.Time{}, errIncomplete("X-Amz-Date must have the form YYYYMMDD'T'HHMMSS'Z'.")
		}
		return v, t, nil
	}
	if v := r.Header.Get("Date"); v != "" {
		t, err := http.ParseTime(v)
		if err != nil {
			return "", time.Time{}, errIncomplete("Date header is not an HTTP date.")
		}
		t = t.UTC()
		return t.Format(amzDateFmt), t, nil
	}
	return "", time.Time{}, errIncomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

// signature is the hex HMAC-SHA256 of the string to sign under the key derived from
// secret and a's scope.
func signature(secret string, a authorization, amzDate, canonical string) string {
	return signWith(signingKey(secret, a), a, amzDate, canonical)
}

// signingKey derives the SigV4 key of secret for a's scope (date, region, service).
func signingKey(secret string, a authorization) []byte {
	key := hmacSHA256([]byte("AWS4"+secret), a.Date)
	key = hmacSHA256(key, a.Region)
	key = hmacSHA256(key, a.Service)
	return hmacSHA256(key, sigTerminal)
}

func signWith(key []byte, a authorization, amzDate, canonical string) string {
	h := sha256.Sum256([]byte(canonical))
	return signHash(key, a, amzDate, hex.EncodeToString(h[:]))
}

// signHash is the signature of a canonical request given its hex SHA-256.
func signHash(key []byte, a authorization, amzDate, canonicalHash string) string {
	stringToSign := sigAlgorithm + "\n" + amzDate + "\n" + a.scope() + "\n" + canonicalHash
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

// keyCache holds derived signing keys: they change once a day per access key and region,
// and deriving one costs four HMACs per request.
type keyCache struct {
	mu   sync.Mutex
	keys map[keyScope][]byte
}

// keyScope is what a derived signing key depends on besides the secret.
type keyScope struct{ accessKeyID, date, region, service string }

// maxCachedKeys bounds the cache; past it the cache starts over.
const maxCachedKeys = 256

func (c *keyCache) get(secret string, a authorization) []byte {
	id := keyScope{a.AccessKeyID, a.Date, a.Region, a.Service}
	c.mu.Lock()
	k, ok := c.keys[id]
	c.mu.Unlock()
	if ok {
		return k
	}
	k = signingKey(secret, a)
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = make(map[keyScope][]byte)
	}
	c.keys[id] = k
	c.mu.Unlock()
	return k
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalRequest is the SigV4 canonical request of r for the given signed headers.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	return string(appendCanonical(nil, r, signed, payloadHash))
}

// canonicalHash is the lowercase hex SHA-256 of r's canonical request, built in a
// pooled buffer: what verification signs, without the string canonicalRequest makes.
func canonicalHash(r *http.Request, signed []string, payloadHash string) string {
	bp := canonicalBufs.Get().(*[]byte)
	b := appendCanonical((*bp)[:0], r, signed, payloadHash)
	h := sha256.Sum256(b)
	if cap(b) <= 64<<10 { // a request with huge signed headers does not pin its buffer
		*bp = b
		canonicalBufs.Put(bp)
	}
	return hex.EncodeToString(h[:])
}

var canonicalBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendCanonical appends r's canonical request to b.
func appendCanonical(b []byte, r *http.Request, signed []string, payloadHash string) []byte {
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = append(b, uriEncode(rawPath(r), false)...)
	b = append(b, '\n')
	b = append(b, canonicalQuery(r.URL.RawQuery)...)
	b = append(b, '\n')
	for _, name := range signed {
		var values []string
		switch name {
		case "host":
			values = []string{r.Host}
		case "content-length":
			values = headerValues(r.Header, name)
			if len(values) == 0 && r.ContentLength >= 0 {
				values = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		case "transfer-encoding":
			values = r.TransferEncoding
		default:
			values = headerValues(r.Header, name)
		}
		b = append(b, name...)
		b = append(b, ':')
		for i, v := range values {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendTrimmed(b, v)
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	for i, name := range signed {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, name...)
	}
	b = append(b, '\n')
	return append(b, payloadHash...)
}

// headerValues returns every value of the header called name (lowercase), whatever the
// case of its key in h. net/http stores parsed headers under their canonical key, so
// that is looked up first (canonical forms of the names signed are cached); any key
// that differs from it only in case is added, as a map of lowercased keys would.
func headerValues(h http.Header, name string) []string {
	key := canonicalKey(name)
	values := h[key]
	for k, v := range h {
		if k != key && len(k) == len(name) && strings.EqualFold(k, name) {
			values = append(slices.Clip(values), v...)
		}
	}
	return values
}

// canonicalKeys caches textproto's canonical form of signed header names: a client
// signs the same few names on every request, and computing the form allocates.
var canonicalKeys struct {
	mu sync.RWMutex
	m  map[string]string
}

func canonicalKey(name string) string {
	canonicalKeys.mu.RLock()
	k, ok := canonicalKeys.m[name]
	canonicalKeys.mu.RUnlock()
	if ok {
		return k
	}
	k = textproto.CanonicalMIMEHeaderKey(name)
	canonicalKeys.mu.Lock()
	if canonicalKeys.m == nil || len(canonicalKeys.m) >= maxCachedKeys {
		canonicalKeys.m = make(map[string]string) // bounded: names come from clients
	}
	canonicalKeys.m[name] = k
	canonicalKeys.mu.Unlock()
	return k
}

// appendTrimmed appends v as SigV4 wants a header value: without leading and trailing
// whitespace, each run of inner whitespace one space (strings.Fields's notion of
// whitespace). A plain ASCII value that needs none of that is appended as is.
func appendTrimmed(b []byte, v string) []byte {
	plain := true
	for i := 0; i < len(v) && plain; i++ {
		switch c := v[i]; {
		case c >= 0x80, c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			plain = false
		case c == ' ':
			plain = i > 0 && i < len(v)-1 && v[i+1] != ' '
		}
	}
	if plain {
		return append(b, v...)
	}
	for i, f := range strings.Fields(v) {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f...)
	}
	return b
}

// rawPath is the path exactly as the client sent it on the request line, escapes kept.
func rawPath(r *http.Request) string {
	if p := r.RequestURI; strings.HasPrefix(p, "/") {
		p, _, _ = strings.Cut(p, "?")
		return p
	}
	return r.URL.EscapedPath()
}

// canonicalQuery sorts the query parameters and encodes names and values as SigV4 wants.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type pair struct{ k, v string }
	var pairs []pair
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		pairs = append(pairs, pair{uriEncode(k, true), uriEncode(v, true)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// uriEncode percent-encodes every byte but the unreserved characters A-Z a-z 0-9 - . _ ~
// (and '/' unless encodeSlash), with uppercase hex, as SigV4 specifies.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' && !encodeSlash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
