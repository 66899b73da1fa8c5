package mgmt

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var verifyCreds = []Credential{{AccessKeyID: "AKIDCLIENT", SecretAccessKey: "client-secret"}}

// presign returns a handshake URL presigned by the AWS SDK's own signer.
func presign(tb testing.TB, rawURL string, creds aws.Credentials, at time.Time, expires time.Duration) string {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		tb.Fatal(err)
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	req.URL.RawQuery = q.Encode()
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, emptyPayloadHash, "execute-api", "us-east-1", at)
	if err != nil {
		tb.Fatal(err)
	}
	return signed
}

// handshake is the request a server sees for a GET of rawURL.
func handshake(tb testing.TB, rawURL string) *http.Request {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		tb.Fatal(err)
	}
	r.RequestURI = u.RequestURI()
	r.Host = u.Host
	return r
}

func TestVerifierPresigned(t *testing.T) {
	signedAt := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	good := aws.Credentials{AccessKeyID: "AKIDCLIENT", SecretAccessKey: "client-secret"}
	base := "http://gw.example:8080/dev?room=a%20b&x=1"
	tests := []struct {
		name     string
		url      func() string
		now      time.Time
		wantCode string
	}{
		{"good", func() string { return presign(t, base, good, signedAt, time.Hour) }, signedAt.Add(time.Minute), ""},
		{"good at the last second", func() string { return presign(t, base, good, signedAt, time.Hour) }, signedAt.Add(time.Hour), ""},
		{"session token", func() string {
			c := good
			c.SessionToken = "token/with+chars="
			return presign(t, base, c, signedAt, time.Hour)
		}, signedAt, ""},
		{"expired", func() string { return presign(t, base, good, signedAt, time.Hour) }, signedAt.Add(time.Hour + time.Second), CodeInvalidSignature},
		{"signed in the future", func() string { return presign(t, base, good, signedAt, time.Hour) }, signedAt.Add(-6 * time.Minute), CodeInvalidSignature},
		{"within the skew", func() string { return presign(t, base, good, signedAt, time.Hour) }, signedAt.Add(-4 * time.Minute), ""},
		{"wrong secret", func() string {
			c := good
			c.SecretAccessKey = "guess"
			return presign(t, base, c, signedAt, time.Hour)
		}, signedAt, CodeInvalidSignature},
		{"unknown key", func() string {
			c := good
			c.AccessKeyID = "AKIDOTHER"
			return presign(t, base, c, signedAt, time.Hour)
		}, signedAt, CodeUnrecognizedClient},
		{"tampered query", func() string {
			return strings.Replace(presign(t, base, good, signedAt, time.Hour), "x=1", "x=2", 1)
		}, signedAt, CodeInvalidSignature},
		{"longer expiry than signed", func() string {
			return strings.Replace(presign(t, base, good, signedAt, time.Hour), "X-Amz-Expires=3600", "X-Amz-Expires=7200", 1)
		}, signedAt, CodeInvalidSignature},
		{"another path", func() string {
			return strings.Replace(presign(t, base, good, signedAt, time.Hour), "/dev?", "/prod?", 1)
		}, signedAt, CodeInvalidSignature},
		{"more than seven days", func() string { return presign(t, base, good, signedAt, 8*24*time.Hour) }, signedAt, CodeIncompleteSignature},
		{"unsigned", func() string { return base }, signedAt, CodeMissingAuthenticationToken},
		{"malformed query", func() string { return presign(t, base, good, signedAt, time.Hour) + "&bad=%zz" }, signedAt, CodeIncompleteSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier("us-east-1", verifyCreds, func() time.Time { return tt.now })
			if err != nil {
				t.Fatal(err)
			}
			r := handshake(t, tt.url())
			id, err := v.Verify(r)
			if tt.wantCode == "" {
				if err != nil || id != "AKIDCLIENT" {
					t.Fatalf("Verify = %q, %v; want AKIDCLIENT", id, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.wantCode {
				t.Fatalf("Verify = %q, %v; want code %s", id, err, tt.wantCode)
			}
			if sig := r.URL.Query().Get("X-Amz-Signature"); sig != "" && strings.Contains(e.Error(), sig) {
				t.Fatalf("the error quotes the signature: %v", e)
			}
			if tt.wantCode == CodeMissingAuthenticationToken && !errors.Is(err, ErrUnsigned) {
				t.Fatalf("an unsigned request's error is not ErrUnsigned: %v", err)
			}
		})
	}
}

// TestVerifierHeader signs handshakes in the Authorization header with the SDK's signer.
func TestVerifierHeader(t *testing.T) {
	signedAt := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	sign := func(secret, hash string) *http.Request {
		r := handshake(t, "http://gw.example/dev?a=1")
		r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		creds := aws.Credentials{AccessKeyID: "AKIDCLIENT", SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hash, "execute-api", "us-east-1", signedAt); err != nil {
			t.Fatal(err)
		}
		return r
	}
	v, err := NewVerifier("us-east-1", verifyCreds, func() time.Time { return signedAt.Add(2 * time.Minute) })
	if err != nil {
		t.Fatal(err)
	}
	for _, hash := range []string{emptyPayloadHash, unsignedPayload} {
		if id, err := v.Verify(sign("client-secret", hash)); err != nil || id != "AKIDCLIENT" {
			t.Errorf("payload hash %s: Verify = %q, %v", hash, id, err)
		}
	}
	var e *Error
	if _, err := v.Verify(sign("wrong", emptyPayloadHash)); !errors.As(err, &e) || e.Code != CodeInvalidSignature {
		t.Errorf("wrong secret: Verify error %v, want %s", err, CodeInvalidSignature)
	}
	late, _ := NewVerifier("us-east-1", verifyCreds, func() time.Time { return signedAt.Add(6 * time.Minute) })
	if _, err := late.Verify(sign("client-secret", emptyPayloadHash)); !errors.As(err, &e) || e.Code != CodeInvalidSignature {
		t.Errorf("6 minutes late: Verify error %v, want %s", err, CodeInvalidSignature)
	}
	both := sign("client-secret", emptyPayloadHash)
	both.URL.RawQuery += "&X-Amz-Signature=00"
	if _, err := v.Verify(both); !errors.As(err, &e) || e.Code != CodeIncompleteSignature {
		t.Errorf("header and query: Verify error %v, want %s", err, CodeIncompleteSignature)
	}
}

// FuzzParsePresigned feeds the presigned-query parser arbitrary query strings, seeded
// with URLs the SDK's presigner made. It must never panic, and what it accepts must be
// what the SDK would have signed (a known algorithm, the execute-api scope, an expiry
// within seven days).
func FuzzParsePresigned(f *testing.F) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []aws.Credentials{
		{AccessKeyID: "AKIDCLIENT", SecretAccessKey: "s"},
		{AccessKeyID: "ASIATEMP", SecretAccessKey: "s", SessionToken: "tok+/="},
	} {
		u, _ := url.Parse(presign(f, "http://h/dev?room=1", c, at, 15*time.Minute))
		f.Add(u.RawQuery)
	}
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=AWS4-HMAC-SHA256")
	f.Add("X-Amz-Expires=-1&X-Amz-Date=2026")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := ParsePresigned(q)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("error %v is not an *Error with a message", err)
			}
			return
		}
		if p.auth.Service != sigService || p.Expires <= 0 || p.Expires > maxPresignExpiry || len(p.auth.Signature) != 64 {
			t.Fatalf("accepted %+v", p)
		}
	})
}

// FuzzVerify runs whole handshakes through the Verifier: an arbitrary query string and
// Authorization header, seeded with what the SDK's presigner and signer make. It must
// never panic, every error must be an *Error, and nothing but a real signature by the
// configured key is accepted (the fuzzer cannot forge one).
func FuzzVerify(f *testing.F) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	good := aws.Credentials{AccessKeyID: "AKIDCLIENT", SecretAccessKey: "client-secret"}
	u, _ := url.Parse(presign(f, "http://gw.example/dev?room=1", good, at, time.Hour))
	f.Add(u.RawQuery, "")
	req := handshake(f, "http://gw.example/dev")
	if err := v4.NewSigner().SignHTTP(context.Background(), good, req, emptyPayloadHash, "execute-api", "us-east-1", at); err != nil {
		f.Fatal(err)
	}
	f.Add("", req.Header.Get("Authorization"))
	f.Add("X-Amz-Signature=&X-Amz-Algorithm=%zz", "AWS4-HMAC-SHA256 Credential=a/b")
	v, err := NewVerifier("us-east-1", verifyCreds, func() time.Time { return at })
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rawQuery, auth string) {
		r := handshake(t, "http://gw.example/dev")
		r.URL.RawQuery = rawQuery
		r.RequestURI = "/dev?" + rawQuery
		r.Header.Set("X-Amz-Date", at.Format(amzDateFmt))
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		id, err := v.Verify(r)
		var e *Error
		switch {
		case err != nil && !errors.As(err, &e):
			t.Fatalf("error %v is not an *Error", err)
		case err == nil && id != "AKIDCLIENT":
			t.Fatalf("accepted for key %q", id)
		}
	})
}
