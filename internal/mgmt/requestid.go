package mgmt

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// headerRequestID is the response header that carries a request's id: API Gateway's
// x-amzn-RequestId, in net/http's canonical spelling (header names are case-insensitive).
// The SDKs read it into middleware.GetRequestIDMetadata and an error's RequestID (Go SDK
// v2) and $metadata.requestId of a result or an error (JS SDK v3).
const headerRequestID = "X-Amzn-Requestid"

// newRequestID is a random version 4 UUID, the form of API Gateway's request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])  // never fails: crypto/rand panics rather than return an error
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	// 8-4-4-4-12 hex digits, written in place: one allocation, where fmt took six.
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	hex.Encode(s[9:13], b[4:6])
	hex.Encode(s[14:18], b[6:8])
	hex.Encode(s[19:23], b[8:10])
	hex.Encode(s[24:], b[10:])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return string(s[:])
}

// withRequestID gives every response of h a fresh request id, set before h runs so that
// successes and errors alike (a 403 for an unknown path, a recovered panic's 500) carry it.
func withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(headerRequestID, newRequestID())
		h.ServeHTTP(w, r)
	})
}

// requestIDOf is the request id withRequestID gave the response w, for the log.
func requestIDOf(w http.ResponseWriter) string {
	return w.Header().Get(headerRequestID)
}
