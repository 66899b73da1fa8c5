package testutil

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsgate/wsgate/internal/devcert"
)

// TLSFiles writes a server certificate for localhost and 127.0.0.1 and its key to a
// temporary directory, and returns their paths and a pool trusting the CA that signed
// it: the TLS files of a server under test and the client's RootCAs.
func TLSFiles(t testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	ca, err := devcert.New()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Leaf("localhost")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, ca.Pool()
}
