package cookieauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
)

// keyFamily groups algorithms by the type of key that verifies them.
type keyFamily int

const (
	familyUnknown keyFamily = iota
	familyHMAC
	familyRSA
	familyEC
	familyEd25519
)

func (f keyFamily) String() string {
	switch f {
	case familyHMAC:
		return "HMAC secret"
	case familyRSA:
		return "RSA public key"
	case familyEC:
		return "ECDSA public key"
	case familyEd25519:
		return "Ed25519 public key"
	default:
		return "unknown key"
	}
}

// familyOfKey says which algorithms a verification key may verify.
func familyOfKey(key any) keyFamily {
	switch key.(type) {
	case []byte:
		return familyHMAC
	case *rsa.PublicKey:
		return familyRSA
	case *ecdsa.PublicKey:
		return familyEC
	case ed25519.PublicKey:
		return familyEd25519
	default:
		return familyUnknown
	}
}

// checkKeyForAlg refuses a key whose type does not match alg. golang-jwt already refuses
// most mismatches; this makes the rule explicit and independent of the key source, so
// that "HS256 signed with the RSA public key" can never verify.
func checkKeyForAlg(alg string, key any) error {
	want, ok := knownAlgorithms[alg]
	if !ok {
		return fmt.Errorf("algorithm %q not supported", alg)
	}
	if got := familyOfKey(key); got != want {
		return fmt.Errorf("algorithm %s needs an %v, the key source gave an %v", alg, want, got)
	}
	return nil
}

// MinHMACSecretBytes is the shortest HMAC secret accepted (RFC 7518 §3.2: a key of at
// least the hash size; 32 bytes for HS256).
const MinHMACSecretBytes = 32

// ErrKeyNotFound is returned (wrapped) by a KeySource that has no key for a token's kid.
// The Authorizer treats it as an invalid token (Unauthorized); any other KeySource error
// means the decision could not be made (Error, a 500), e.g. a secret store being down.
var ErrKeyNotFound = errors.New("no key for this token")
