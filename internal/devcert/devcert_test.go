package devcert

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateKeepsTheCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	first, certFile, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if certFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("certFile %s", certFile)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("ca-key.pem mode %v, want 0600", fi.Mode().Perm())
	}
	again, _, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(first.Cert) {
		t.Error("second LoadOrCreate made a new CA")
	}
	// A file that is not a CA and its key is replaced.
	if err := os.WriteFile(filepath.Join(dir, "ca-key.pem"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh, _, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Cert.Equal(first.Cert) {
		t.Error("a broken key file kept the old CA")
	}
}

func TestLeafVerifies(t *testing.T) {
	ca, err := New()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := ca.Leaf("ui.dev.example.test", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"ui.dev.example.test", "localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.Pool()}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, _, err := ca.Leaf(); err == nil {
		t.Error("a leaf without hosts: no error")
	}
}

func TestParseRejectsALeaf(t *testing.T) {
	ca, err := New()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Leaf("localhost")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(certPEM, keyPEM); err == nil {
		t.Error("Parse accepted a leaf certificate as a CA")
	}
}
