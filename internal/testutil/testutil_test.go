package testutil

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalTB records Fatalf and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestEventually(t *testing.T) {
	t.Run("nil after a few polls", func(t *testing.T) {
		calls := 0
		took := Eventually(t, time.Second, func() error {
			if calls++; calls < 3 {
				return fmt.Errorf("calls: %d, want 3", calls)
			}
			return nil
		})
		if calls != 3 {
			t.Errorf("cond called %d times, want 3", calls)
		}
		if took < 2*PollInterval {
			t.Errorf("took %v, want at least two intervals", took)
		}
	})
	t.Run("still failing reports the last error", func(t *testing.T) {
		f := &fatalTB{TB: t}
		done := make(chan struct{})
		calls := 0
		go func() {
			defer close(done)
			Eventually(f, 30*time.Millisecond, func() error {
				calls++
				return fmt.Errorf("route sendmessage not up (try %d)", calls)
			})
		}()
		<-done
		if want := fmt.Sprintf("still failing after 30ms: route sendmessage not up (try %d)", calls); f.msg != want {
			t.Errorf("message %q, want %q", f.msg, want)
		}
	})
}

func TestTLSFiles(t *testing.T) {
	certFile, keyFile, pool := TLSFiles(t)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool}); err == nil || !strings.Contains(err.Error(), "example.com") {
		t.Errorf("example.com: %v, want a name mismatch", err)
	}
}
