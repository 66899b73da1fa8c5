package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/cookieauth"
	"github.com/wsgate/wsgate/internal/config"
)

// claimFlags collect repeated --claim k=v.
type claimFlags []string

func (c *claimFlags) String() string     { return strings.Join(*c, ",") }
func (c *claimFlags) Set(v string) error { *c = append(*c, v); return nil }

// minted is what token prints, and its --json form.
type minted struct {
	Authorizer     string            `json:"authorizer"`
	Algorithm      string            `json:"algorithm"`
	JWT            string            `json:"jwt"`
	CSRF           string            `json:"csrf,omitempty"`
	CSRFQueryParam string            `json:"csrfQueryParam,omitempty"`
	Cookie         string            `json:"cookie"`
	Origin         string            `json:"origin,omitempty"`
	URL            string            `json:"url"`
	Expires        time.Time         `json:"expires"`
	Headers        map[string]string `json:"headers"`
	Wscat          string            `json:"wscat"`
	Curl           string            `json:"curl"`
}

// token mints a JWT (and its CSRF token) that the cookie authorizer of a configuration
// admits, signed with the key the gateway verifies with.
func token(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("token")
	cf := addConfigFlags(fs)
	authID := fs.String("authorizer", "", "the cookie authorizer `id` (a key of Authorizers); default: the one on $connect")
	privateKey := fs.String("private-key", "", "PEM private key `file` (PKCS #8, PKCS #1 or SEC 1) to sign with, for an authorizer that verifies with PublicKeyFile or JwksUrl")
	kid := fs.String("kid", "", "the JWT header's kid (for a JWKS)")
	sub := fs.String("sub", "dev-user", "the principal (sub claim)")
	ttl := fs.Duration("ttl", 15*time.Minute, "token lifetime (exp = now + ttl)")
	origin := fs.String("origin", "", "the Origin the client line sends; default: the authorizer's first AllowedOrigins entry that is not a pattern")
	wsURL := fs.String("url", "", "the gateway's WebSocket `URL`; default: ws:// (wss:// with Server.TLS) on Server.Listen")
	asJSON := fs.Bool("json", false, "print one JSON object instead of lines")
	var claims claimFlags
	fs.Var(&claims, "claim", "an extra claim `k=v` (repeatable); v is typed: integer, number, true/false, else a string")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, _, err := cf.load("token")
	if err != nil {
		return err
	}
	id, ck, err := cookieAuthorizer(cfg, *authID)
	if err != nil {
		return err
	}
	field := "Authorizers." + id + ".Cookie.Key"
	method, key, err := signingKey(field, ck, getenv, *privateKey)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}

	now := time.Now()
	m := minted{Authorizer: id, Algorithm: method.Alg(), Expires: now.Add(*ttl).UTC().Truncate(time.Second), Headers: map[string]string{}}
	c := jwt.MapClaims{"sub": *sub, "iat": now.Unix(), "exp": m.Expires.Unix()}
	if ck.Issuer != "" {
		c["iss"] = ck.Issuer
	}
	if ck.Audience != "" {
		c["aud"] = ck.Audience
	}
	for _, kv := range claims {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return &usageError{cmd: "token", msg: fmt.Sprintf("token: --claim %q: want k=v", kv)}
		}
		c[k] = typedClaim(v)
	}
	jwtCookie, csrfCookie := cmpOr(ck.JWTCookie, "JWT"), cmpOr(ck.CSRFCookie, "CSRF-TOKEN")
	if !ck.DisableCSRF {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		m.CSRF = base64.RawURLEncoding.EncodeToString(b)
		m.CSRFQueryParam = cmpOr(ck.CSRFQueryParam, "csrf")
		if ck.CSRFClaim != "" {
			c[ck.CSRFClaim] = m.CSRF
		}
	}
	t := jwt.NewWithClaims(method, c)
	if *kid != "" {
		t.Header["kid"] = *kid
	}
	if m.JWT, err = t.SignedString(key); err != nil {
		return fmt.Errorf("token: signing: %w", err)
	}
	m.Cookie = jwtCookie + "=" + m.JWT
	if m.CSRF != "" && ck.CSRFClaim == "" {
		// Plain double submit: the CSRF cookie carries the token too.
		m.Cookie += "; " + csrfCookie + "=" + m.CSRF
	}
	m.Headers["Cookie"] = m.Cookie

	m.Origin = *origin
	if m.Origin == "" {
		for _, o := range ck.AllowedOrigins {
			if !strings.Contains(o, "*") {
				m.Origin = o
				break
			}
		}
		if m.Origin == "" && !ck.AllowMissingOrigin {
			return &usageError{cmd: "token", msg: fmt.Sprintf("token: %s allows only the origin patterns %v: pass --origin", "Authorizers."+id+".Cookie.AllowedOrigins", ck.AllowedOrigins)}
		}
	}
	if m.Origin != "" {
		m.Headers["Origin"] = m.Origin
	}
	base := *wsURL
	if base == "" {
		scheme := "ws"
		if cfg.Server.TLS != nil {
			scheme = "wss"
		}
		base = scheme + "://" + cfg.Server.Listen + "/"
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") {
		return &usageError{cmd: "token", msg: fmt.Sprintf("token: --url %q: want a ws:// or wss:// URL", base)}
	}
	if m.CSRF != "" {
		q := u.Query()
		q.Set(m.CSRFQueryParam, m.CSRF)
		u.RawQuery = q.Encode()
	}
	m.URL = u.String()
	hdrs := " -H " + shellQuote("Cookie: "+m.Cookie)
	if m.Origin != "" {
		hdrs += " -H " + shellQuote("Origin: "+m.Origin)
	}
	m.Wscat = "npx wscat -c " + shellQuote(m.URL) + hdrs
	hu := *u
	hu.Scheme = map[string]string{"ws": "http", "wss": "https"}[u.Scheme]
	m.Curl = "curl -sS --include --no-buffer --http1.1 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H " +
		shellQuote("Sec-WebSocket-Key: "+base64.StdEncoding.EncodeToString([]byte("wsgate-token-key"))) + hdrs + " " + shellQuote(hu.String())

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Cookie: %s\n", m.Cookie)
	if m.CSRF != "" {
		fmt.Fprintf(&b, "csrf: %s\n", m.CSRF)
	}
	if m.Origin != "" {
		fmt.Fprintf(&b, "Origin: %s\n", m.Origin)
	}
	fmt.Fprintf(&b, "url: %s\nexpires: %s (%s, authorizer %s)\n", m.URL, m.Expires.Format(time.RFC3339), m.Algorithm, id)
	fmt.Fprintf(&b, "wscat: %s\ncurl: %s\n", m.Wscat, m.Curl)
	_, err = io.WriteString(stdout, b.String())
	return err
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cookieAuthorizer picks the cookie authorizer: id when given, else the $connect
// route's, else the only one.
func cookieAuthorizer(cfg *config.Config, id string) (string, *config.CookieAuthorizer, error) {
	if id == "" {
		if r, ok := cfg.Routes[config.RouteConnect]; ok && r.AuthorizationType == "CUSTOM" {
			id = r.AuthorizerID
		}
	}
	if id == "" {
		var ids []string
		for k, a := range cfg.Authorizers {
			if a.Cookie != nil {
				ids = append(ids, k)
			}
		}
		if len(ids) != 1 {
			return "", nil, errors.New("token: the configuration has no cookie authorizer on $connect: name one with --authorizer")
		}
		id = ids[0]
	}
	a, ok := cfg.Authorizers[id]
	switch {
	case !ok:
		return "", nil, &usageError{cmd: "token", msg: fmt.Sprintf("token: --authorizer %q is not in Authorizers", id)}
	case a.Cookie == nil:
		return "", nil, fmt.Errorf("token: Authorizers.%s is not the cookie authorizer (it is %s): wsgate can mint tokens only for the cookie authorizer", id, a.AuthorizerURI)
	}
	return id, a.Cookie, nil
}

// signingKey returns the method and key that sign for ck: the HMAC secret from the same
// environment variable or file as the gateway, or the private key file (the gateway
// holds only a public key).
func signingKey(field string, ck *config.CookieAuthorizer, getenv func(string) string, privateKeyFile string) (jwt.SigningMethod, any, error) {
	k := ck.Key
	if privateKeyFile != "" {
		m, key, err := privateSigningKey(ck.Algorithms, privateKeyFile)
		if err == nil && k.PublicKeyFile != "" {
			err = matchesPublicKey(key, field+".PublicKeyFile", k.PublicKeyFile)
		}
		return m, key, err
	}
	var secret []byte
	switch {
	case k.DevKey:
		secret = []byte(config.DevHMACSecret)
	case k.HMACSecretEnv != "":
		v := getenv(k.HMACSecretEnv)
		if v == "" {
			return nil, nil, fmt.Errorf("%s.HmacSecretEnv: the environment variable %s is not set; it holds the HMAC secret the gateway verifies JWTs with (at least %d bytes): set it as for serve",
				field, k.HMACSecretEnv, cookieauth.MinHMACSecretBytes)
		}
		secret = []byte(v)
	case k.HMACSecretFile != "":
		b, err := os.ReadFile(k.HMACSecretFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%s.HmacSecretFile: %w", field, err)
		}
		secret = []byte(strings.TrimRight(string(b), "\r\n"))
	case k.PublicKeyFile != "":
		return nil, nil, fmt.Errorf("%s.PublicKeyFile: the gateway holds only the public key %s; pass the matching private key with --private-key FILE", field, k.PublicKeyFile)
	case k.JWKSURL != "":
		return nil, nil, fmt.Errorf("%s.JwksUrl: the gateway verifies with a JWKS, which holds only public keys; pass a private key whose public key it lists with --private-key FILE (and its --kid)", field)
	default:
		return nil, nil, fmt.Errorf("%s: no key source", field)
	}
	for _, alg := range ck.Algorithms {
		if m := jwt.GetSigningMethod(alg); m != nil && strings.HasPrefix(alg, "HS") {
			return m, secret, nil
		}
	}
	return nil, nil, fmt.Errorf("%s: the authorizer's Algorithms %v have no HMAC algorithm for its HMAC secret", field, ck.Algorithms)
}

// privateSigningKey reads a PEM private key and picks the first of algs that it signs.
func privateSigningKey(algs []string, path string) (jwt.SigningMethod, any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--private-key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, nil, fmt.Errorf("--private-key: %s holds no PEM block", path)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
				return nil, nil, fmt.Errorf("--private-key: %s is not a PKCS #8, PKCS #1 or SEC 1 private key", path)
			}
		}
	}
	var fits []string
	switch k := key.(type) {
	case *rsa.PrivateKey:
		fits = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PrivateKey:
		fits = map[elliptic.Curve][]string{elliptic.P256(): {"ES256"}, elliptic.P384(): {"ES384"}, elliptic.P521(): {"ES512"}}[k.Curve]
	case ed25519.PrivateKey:
		fits = []string{"EdDSA"}
	}
	for _, alg := range algs {
		if slices.Contains(fits, alg) {
			return jwt.GetSigningMethod(alg), key, nil
		}
	}
	return nil, nil, fmt.Errorf("--private-key: the authorizer's Algorithms %v have none for a %T", algs, key)
}

// matchesPublicKey checks that priv is the private half of the PEM public key (or
// certificate) the gateway verifies with, so that a wrong --private-key is an error here
// rather than a 401 later.
func matchesPublicKey(priv any, field, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return fmt.Errorf("%s: %s holds no PEM block", field, path)
	}
	var pub any
	switch block.Type {
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = c.PublicKey
		}
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return fmt.Errorf("--private-key: a %T cannot sign", priv)
	}
	if eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return fmt.Errorf("--private-key: it is not the private key of %s %s, which the gateway verifies with", field, path)
	}
	return nil
}

// typedClaim types a --claim value: an integer, a number, a boolean, else the string.
func typedClaim(v string) any {
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
		return b
	}
	return v
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
