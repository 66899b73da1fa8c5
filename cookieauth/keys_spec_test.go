package cookieauth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewKeySource(t *testing.T) {
	dir := t.TempDir()
	secret := strings.Repeat("s", MinHMACSecretBytes)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secretFile := write("secret", []byte(secret+"\r\n"))
	pemFile := write("key.pem", pkixPEM(t, &keys.ec.PublicKey))
	getenv := func(name string) string { return map[string]string{"SECRET": secret}[name] }
	parameter := func(_ context.Context, name string) (KeySource, error) {
		if name != "/wsgate/secret" {
			return nil, errors.New("parameter not found")
		}
		return HMACSecret([]byte(secret))
	}
	for _, tc := range []struct {
		name    string
		spec    KeySpec
		want    keyFamily
		wantErr string
	}{
		{name: "HMAC secret", spec: KeySpec{HMACSecret: []byte(secret)}, want: familyHMAC},
		{name: "HMAC secret from the environment", spec: KeySpec{HMACSecretEnv: "SECRET"}, want: familyHMAC},
		{name: "HMAC secret from a file, newline dropped", spec: KeySpec{HMACSecretFile: secretFile}, want: familyHMAC},
		{name: "HMAC secret from a parameter", spec: KeySpec{HMACSecretParameter: "/wsgate/secret"}, want: familyHMAC},
		{name: "PEM", spec: KeySpec{PublicKeyPEM: pkixPEM(t, &keys.ec.PublicKey)}, want: familyEC},
		{name: "PEM file", spec: KeySpec{PublicKeyFile: pemFile}, want: familyEC},
		{name: "the first source wins", spec: KeySpec{HMACSecret: []byte(secret), PublicKeyFile: pemFile}, want: familyHMAC},

		{name: "none", spec: KeySpec{}, wantErr: "no key source"},
		{name: "empty environment variable", spec: KeySpec{HMACSecretEnv: "UNSET"}, wantErr: "HmacSecretEnv: the environment variable UNSET is empty"},
		{name: "secret too short", spec: KeySpec{HMACSecret: []byte("short")}, wantErr: "HMAC secret has 5 bytes, at least 32 are required"},
		{name: "missing secret file", spec: KeySpec{HMACSecretFile: filepath.Join(dir, "nope")}, wantErr: "HmacSecretFile: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{name: "missing PEM file", spec: KeySpec{PublicKeyFile: filepath.Join(dir, "nope")}, wantErr: "PublicKeyFile: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{name: "PEM file not a key", spec: KeySpec{PublicKeyFile: secretFile}, wantErr: "no PEM block found"},
		{name: "missing parameter", spec: KeySpec{HMACSecretParameter: "/other"}, wantErr: "parameter not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := NewKeySource(t.Context(), tc.spec, KeyDeps{Getenv: getenv, Parameter: parameter})
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if strings.Contains(gotErr, secret) {
				t.Error("error holds the secret")
			}
			if err != nil {
				return
			}
			key, err := ks.Key(t.Context(), "", "")
			if err != nil {
				t.Fatal(err)
			}
			if got := familyOfKey(key); got != tc.want {
				t.Errorf("key is an %v, want an %v", got, tc.want)
			}
			if b, ok := key.([]byte); ok && string(b) != secret {
				t.Errorf("HMAC secret = %q, want %q", b, secret)
			}
		})
	}
}

func TestNewKeySourceWithoutParameterReader(t *testing.T) {
	_, err := NewKeySource(t.Context(), KeySpec{HMACSecretParameter: "/p"}, KeyDeps{})
	if err == nil || err.Error() != "no secret store to read the parameter from" {
		t.Errorf("error = %v", err)
	}
}
