package cookieauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// staticKey is a key that does not change and does not depend on kid.
type staticKey struct {
	key any
	fam keyFamily
}

func (s staticKey) Key(context.Context, string, string) (any, error) { return s.key, nil }

// family lets New refuse algorithms this key cannot verify.
func (s staticKey) family() keyFamily { return s.fam }

// HMACSecret returns a KeySource holding a copy of secret, for HS256/HS384/HS512. Secrets
// shorter than MinHMACSecretBytes are refused.
func HMACSecret(secret []byte) (KeySource, error) {
	if len(secret) < MinHMACSecretBytes {
		return nil, fmt.Errorf("HMAC secret has %d bytes, at least %d are required", len(secret), MinHMACSecretBytes)
	}
	return staticKey{key: append([]byte(nil), secret...), fam: familyHMAC}, nil
}

// MinRSABits is the smallest RSA modulus accepted.
const MinRSABits = 2048

// PublicKeyPEM returns a KeySource for one PEM block: "PUBLIC KEY" (PKIX: RSA, ECDSA or
// Ed25519), "RSA PUBLIC KEY" (PKCS #1) or "CERTIFICATE" (its public key). Private keys,
// RSA keys under MinRSABits, other key types and trailing data are refused.
func PublicKeyPEM(pemBytes []byte) (KeySource, error) {
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("data after the first PEM block: give exactly one public key")
	}
	var (
		pub any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, fmt.Errorf("PEM block is a %s: give the public key, never the private one", block.Type)
		}
		return nil, fmt.Errorf("PEM block type %q is not a public key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	if k, ok := pub.(*rsa.PublicKey); ok && k.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("RSA key has %d bits, at least %d are required", k.N.BitLen(), MinRSABits)
	}
	switch pub.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("unsupported public key type %T", pub)
	}
	return staticKey{key: pub, fam: familyOfKey(pub)}, nil
}
