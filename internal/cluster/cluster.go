// Package cluster says which node owns a connection and delivers @connections operations
// to it. The gateway registers its live connections in a [Registry]; the @connections
// API calls the registry's [Connections] methods without knowing where the connection
// lives. [Local] is the single-node, in-memory registry; package natscluster
// implements the same interfaces for several nodes on NATS. Connection ids carry their
// owner node (connid.go).
package cluster

import (
	"context"
	"errors"
	"time"
)

// DefaultMaxPayload is the largest message a client may send or be sent when no other
// limit is configured: the 128 KB message limit of API Gateway WebSocket APIs. Config's
// Server.Limits.MaxMessageBytes defaults to it; the registries and the @connections API
// use it when given 0.
const DefaultMaxPayload = 128 << 10

// Errors returned by [Connections] methods. The @connections API maps them to
// GoneException (410), PayloadTooLargeException (413) and LimitExceededException (429).
var (
	// ErrGone means no live connection has this id (never existed, closed, or its node
	// is gone).
	ErrGone = errors.New("connection is gone")
	// ErrPayloadTooLarge means the data exceeds the maximum message size.
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrLimitExceeded means the connection's send queue is full (a slow reader).
	ErrLimitExceeded = errors.New("connection send queue is full")
)

// Info is what GET @connections/{id} returns about a connection.
type Info struct {
	ConnectedAt  time.Time
	LastActiveAt time.Time
	SourceIP     string
	UserAgent    string
}

// Connections is the @connections API's view of the live connections, wherever they are.
type Connections interface {
	// Post sends data to the connection as one message (text frame, or binary if the
	// data is not valid UTF-8).
	Post(ctx context.Context, id string, data []byte) error
	// Get describes the connection.
	Get(ctx context.Context, id string) (Info, error)
	// Delete closes the connection (close code 1000); $disconnect runs for it.
	Delete(ctx context.Context, id string) error
	// PostMany sends data to every connection in ids, as Post would to each (a
	// wsgate extension: one request for a broadcast). errs[i] is Post's error for ids[i],
	// nil when it was queued; errs is nil when every one was.
	PostMany(ctx context.Context, ids []string, data []byte) (errs []error)
}

// MaxPostMany is the most connection ids one PostMany call takes.
const MaxPostMany = 100_000

// Conn is a live connection owned by this node, as the registry sees it.
type Conn interface {
	// ID is the connection id.
	ID() string
	// Send queues (or writes) data for the client without waiting for it; it returns
	// ErrLimitExceeded when the send queue is full and ErrGone when the connection is closing.
	Send(data []byte) error
	// Info describes the connection.
	Info() Info
	// Close closes the connection on behalf of the @connections API.
	Close()
}

// Registry tracks the connections this node owns and answers for all connections.
type Registry interface {
	Connections
	// Add registers a connection owned by this node.
	Add(c Conn)
	// Remove unregisters it.
	Remove(id string)
	// Each calls fn for every connection this node owns (a snapshot: fn may close
	// connections).
	Each(fn func(Conn))
}
