package gateway

// Connection ids are cluster.NewConnectionID's (the cluster routes on them).

import (
	"crypto/rand"
	"encoding/base64"
)

// requestID returns a request id ($context.requestId / extendedRequestId).
func requestID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}
