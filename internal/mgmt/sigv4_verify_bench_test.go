package mgmt

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// BenchmarkVerifyPresigned is the cost of checking one presigned handshake URL (parse,
// canonical request, signature under both payload hashes; the signing key is cached).
func BenchmarkVerifyPresigned(b *testing.B) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	u := presign(b, "http://gw.example:8080/prod?room=1", aws.Credentials{AccessKeyID: "AKIDCLIENT", SecretAccessKey: "client-secret"}, at, time.Hour)
	v, err := NewVerifier("us-east-1", verifyCreds, func() time.Time { return at })
	if err != nil {
		b.Fatal(err)
	}
	r := handshake(b, u)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}
