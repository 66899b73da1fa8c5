package cluster

import (
	"crypto/rand"
	"encoding/base64"
)

// The connection id format, in one place: the gateway makes ids with it and every node
// routes @connections operations by the node id it carries.

// NewConnectionID returns a 16-character base64 id ending in "=" (11 bytes), AWS's connection id
// shape; the first byte is the node id, so any node can tell a connection's owner. The
// URL-safe alphabet keeps "/" and "+" out of ids, which clients put in URL paths (the
// "=" must still be escaped by strict clients; the AWS SDKs do).
func NewConnectionID(node byte) string {
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
