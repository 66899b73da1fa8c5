package gateway

import (
	"crypto/rand"
	"encoding/base64"
)

// newID returns a 16-character base64 id ending in "=" (11 bytes), AWS's connection id
// shape; the first byte is the node id, so any node can tell a connection's owner. The
// URL-safe alphabet keeps "/" and "+" out of ids, which clients put in URL paths (the
// "=" must still be escaped by strict clients; the AWS SDKs do).
func newID(node byte) string {
	var b [11]byte
	b[0] = node
	_, _ = rand.Read(b[1:])
	return base64.URLEncoding.EncodeToString(b[:])
}

// NodeOf returns the node id encoded in a connection id, and false if id is not one.
func NodeOf(id string) (byte, bool) {
	if len(id) != 16 {
		return 0, false
	}
	b, err := base64.URLEncoding.DecodeString(id)
	if err != nil || len(b) != 11 {
		return 0, false
	}
	return b[0], true
}

// requestID returns a request id ($context.requestId / extendedRequestId).
func requestID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}
