// Package natscluster is the cluster.Registry of several gateway nodes on NATS: each
// node keeps its own connections in a cluster.Local and sends @connections operations for
// another node's connections to that node as NATS request-replies (nats.go), and a node
// can run the NATS server itself (embedded.go). docs/cluster.md describes the topology,
// the wire format and the failure semantics.
package natscluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/internal/cluster"
)

// Errors a [NATS] registry returns besides [cluster.ErrGone], [cluster.ErrPayloadTooLarge] and
// [cluster.ErrLimitExceeded]. The @connections API answers both with a 500.
var (
	// ErrRemote means the owner node answered with an error other than gone, limit or
	// too large (a bug or a failure on that node).
	ErrRemote = errors.New("owner node failed")
	// ErrUnavailable means the request could not go through NATS: this node is not
	// connected (NATS outage) or its NATS connection is closed. Whether the connection
	// is alive is unknown, so it is not reported as gone.
	ErrUnavailable = errors.New("cluster messaging unavailable")
)

// Wire format. A request to the owner of connection id X (node N = NodeOf(X)) goes to
// subject "<Subject>.node.<N>.<op>" with op one of post, postmany, get, delete (and
// ping, used at start-up to find a duplicate node id); postmany's format is at
// encodePostMany. The connection id travels in the
// Wsgate-Connection-Id header; a post's data is the raw payload. The reply carries
// Wsgate-Status (one of the status values below); an error reply carries its message
// in Wsgate-Error; a get reply's data is the JSON of [wireInfo].
const (
	hdrConnID = "Wsgate-Connection-Id"
	hdrStatus = "Wsgate-Status"
	hdrError  = "Wsgate-Error"

	statusOK       = "ok"
	statusGone     = "gone"
	statusLimit    = "limit"
	statusTooLarge = "too_large"
	statusError    = "error"

	opPost     = "post"
	opPostMany = "postmany"
	opGet      = "get"
	opDelete   = "delete"
	opPing     = "ping"

	// headerRoom is what a request adds to the payload (protocol headers), kept free
	// below the NATS server's max_payload.
	headerRoom = 1024
)

// wireInfo is [cluster.Info] as a get reply carries it.
type wireInfo struct {
	ConnectedAt  time.Time `json:"connectedAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	SourceIP     string    `json:"sourceIp"`
	UserAgent    string    `json:"userAgent"`
}

// NATSOptions configures a [NATS] registry. Zero values are the documented defaults.
type NATSOptions struct {
	// Conn is this node's NATS connection. Required. The registry does not close it;
	// configure it to reconnect forever (nats.MaxReconnects(-1)) so a NATS outage is
	// survived without restarting the node.
	Conn *nats.Conn
	// NodeID is this node's id, the first byte of the connection ids it issues. It must
	// be unique among the nodes sharing Subject.
	NodeID byte
	// NodeOf returns the node that owns a connection id, and false for an id that is not
	// one (such an id is gone). Required ([cluster.NodeOf]).
	NodeOf func(id string) (byte, bool)
	// Subject prefixes the subjects of this API: nodes of one API share it, two APIs on
	// one NATS use different ones (the config's default is "wsgate.<ApiId>.<StageName>").
	// A NATS subject without wildcards. Default "wsgate".
	Subject string
	// Timeout bounds an operation routed to another node; an owner that does not answer
	// in time is gone. Default 2s.
	Timeout time.Duration
	// MaxPayload is the largest Post accepted, in bytes. Default cluster.DefaultMaxPayload.
	MaxPayload int
	// Logger receives failures to answer other nodes. Default: discard.
	Logger *slog.Logger
	// OnPanic is called after a panic answering another node's request was recovered
	// (and logged); the server counts it in wsgate_panics_total. Nil: only logged.
	OnPanic func()
}

// NATS is a [cluster.Registry] for one gateway node of a cluster. The node's own connections
// live in a [cluster.Local]; Post, Get and Delete for another node's connection are NATS
// request-replies to the owner, chosen from the connection id with cluster.NodeOf (no registry
// lookup on the hot path). It answers the other nodes' requests for its own connections
// on "<Subject>.node.<NodeID>.*".
type NATS struct {
	local   *cluster.Local
	nc      *nats.Conn
	node    byte
	nodeOf  func(string) (byte, bool)
	subject string
	timeout time.Duration
	log     *slog.Logger
	// prefix[n] is "<Subject>.node.<n>.", built once.
	prefix [256]string

	closeOnce sync.Once
	sub       *nats.Subscription

	// Requests from other nodes are answered in goroutines, at most maxServing at once,
	// so that one slow operation (a Post waiting for its connection's upgrade to finish)
	// never holds up the others; serving counts them for Close.
	slots   chan struct{}
	serving sync.WaitGroup
	onPanic func()
}

// maxServing bounds the requests from other nodes answered at once.
const maxServing = 256

var _ cluster.Registry = (*NATS)(nil)

// NewNATS returns the registry for node o.NodeID and subscribes to its subjects. It
// fails if another node already answers for o.NodeID on o.Subject (checked with one
// request when the connection is up: a cheap guard against a copied config, not a
// consensus), or if NATS's max_payload is below o.MaxPayload.
func NewNATS(o NATSOptions) (*NATS, error) {
	if o.Conn == nil {
		return nil, errors.New("cluster: NATSOptions.Conn is required")
	}
	if o.NodeOf == nil {
		return nil, errors.New("cluster: NATSOptions.NodeOf is required")
	}
	if o.Subject == "" {
		o.Subject = "wsgate"
	}
	if err := checkSubject(o.Subject); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = cluster.DefaultMaxPayload
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if mp := o.Conn.MaxPayload(); mp > 0 && int64(o.MaxPayload)+headerRoom > mp {
		return nil, fmt.Errorf("cluster: NATS max_payload is %d bytes, below MaxPayload %d plus %d for headers: raise max_payload on the NATS servers", mp, o.MaxPayload, headerRoom)
	}
	n := &NATS{
		local:   cluster.NewLocal(o.MaxPayload),
		nc:      o.Conn,
		node:    o.NodeID,
		nodeOf:  o.NodeOf,
		subject: o.Subject,
		timeout: o.Timeout,
		log:     o.Logger.With("node", o.NodeID),
		slots:   make(chan struct{}, maxServing),
		onPanic: o.OnPanic,
	}
	for i := range n.prefix {
		n.prefix[i] = o.Subject + ".node." + strconv.Itoa(i) + "."
	}
	if err := n.checkDuplicate(); err != nil {
		return nil, err
	}
	sub, err := n.nc.Subscribe(n.prefix[n.node]+"*", n.dispatch)
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	// Unlimited pending: the handler blocks only while maxServing requests are being
	// answered, and dropping a request would turn into a false 410 at the caller after
	// its timeout.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	n.sub = sub
	if n.nc.IsConnected() {
		// Make the server register the interest before other nodes are told about us.
		if err := n.nc.FlushTimeout(n.timeout); err != nil {
			n.log.Warn("cluster: flush after subscribe", "err", err)
		}
	}
	return n, nil
}

// checkSubject rejects a prefix that is not a literal NATS subject.
func checkSubject(s string) error {
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n*>") {
			return fmt.Errorf("cluster: subject %q is not a NATS subject without wildcards", s)
		}
	}
	return nil
}

// checkDuplicate asks whether a node already answers for this node id.
func (n *NATS) checkDuplicate() error {
	if !n.nc.IsConnected() {
		n.log.Warn("cluster: NATS not connected yet, duplicate node id check skipped")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(n.timeout, time.Second))
	defer cancel()
	_, err := n.nc.RequestMsgWithContext(ctx, nats.NewMsg(n.prefix[n.node]+opPing))
	switch {
	case err == nil:
		return fmt.Errorf("cluster: node id %d is already used by another node on subject %q: give each node its own Server.NodeId", n.node, n.subject)
	case errors.Is(err, nats.ErrNoResponders):
		return nil
	default:
		n.log.Warn("cluster: duplicate node id check failed", "err", err)
		return nil
	}
}

// Close stops answering other nodes: it unsubscribes, lets requests already received
// finish, and waits (up to Timeout) until NATS knows. Afterwards other nodes get
// cluster.ErrGone for this node's connections at once. It does not close the NATS connection
// nor this node's connections.
func (n *NATS) Close() error {
	var err error
	n.closeOnce.Do(func() {
		closed := n.sub.StatusChanged(nats.SubscriptionClosed)
		if err = n.sub.Drain(); err != nil {
			if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
				err = nil // the server already forgot the subscription
				return
			}
			err = fmt.Errorf("cluster: drain: %w", err)
			return
		}
		t := time.NewTimer(n.timeout)
		defer t.Stop()
		select {
		case <-closed:
		case <-t.C:
			err = errors.New("cluster: drain: requests still in flight after the timeout")
		}
		// The subscription calls dispatch no more: wait for the answers under way.
		n.serving.Wait()
		if n.nc.IsConnected() {
			_ = n.nc.FlushTimeout(n.timeout)
		}
	})
	return err
}

// Add registers a connection owned by this node.
func (n *NATS) Add(c cluster.Conn) { n.local.Add(c) }

// Remove unregisters it.
func (n *NATS) Remove(id string) { n.local.Remove(id) }

// Each calls fn for every connection this node owns.
func (n *NATS) Each(fn func(cluster.Conn)) { n.local.Each(fn) }

// Len is the number of connections this node owns.
func (n *NATS) Len() int { return n.local.Len() }

// Post sends data to the connection, on this node or through its owner.
func (n *NATS) Post(ctx context.Context, id string, data []byte) error {
	if len(data) > n.local.MaxPayload {
		return cluster.ErrPayloadTooLarge
	}
	owner, ok := n.nodeOf(id)
	if !ok {
		return cluster.ErrGone
	}
	if owner == n.node {
		return n.local.Post(ctx, id, data)
	}
	_, err := n.request(ctx, owner, opPost, id, data)
	return err
}

// PostMany sends data to every connection in ids: this node's directly, each other
// node's in one request per node (split only to stay under NATS's max_payload), the
// nodes asked in parallel. A request that fails (owner gone, NATS down) fails each of
// its ids with that error.
func (n *NATS) PostMany(ctx context.Context, ids []string, data []byte) []error {
	errs := make([]error, len(ids))
	failed := false
	fail := func(i int, err error) { errs[i], failed = err, true }
	if len(data) > n.local.MaxPayload {
		for i := range ids {
			fail(i, cluster.ErrPayloadTooLarge)
		}
		return errs
	}
	// byNode[node] are the indexes into ids of that node's connections.
	byNode := map[byte][]int{}
	for i, id := range ids {
		owner, ok := n.nodeOf(id)
		if !ok {
			fail(i, cluster.ErrGone)
			continue
		}
		byNode[owner] = append(byNode[owner], i)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex // guards errs and failed across the nodes' goroutines
	for owner, idx := range byNode {
		wg.Go(func() {
			sub := make([]string, len(idx))
			for j, i := range idx {
				sub[j] = ids[i]
			}
			var got []error
			if owner == n.node {
				got = n.local.PostMany(ctx, sub, data)
			} else {
				got = n.postMany(ctx, owner, sub, data)
			}
			if got == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for j, err := range got {
				if err != nil {
					fail(idx[j], err)
				}
			}
		})
	}
	wg.Wait()
	if !failed {
		return nil
	}
	return errs
}

// postMany sends one node's share of a PostMany, in as many requests as max_payload
// requires. The request's data is [uvarint count][uvarint len, id]...[payload]; the
// reply's data is one status byte per id (postManyStatus).
func (n *NATS) postMany(ctx context.Context, owner byte, ids []string, data []byte) []error {
	limit := int(n.nc.MaxPayload()) - headerRoom
	if limit <= 0 {
		limit = 1 << 20
	}
	errs := make([]error, len(ids))
	failed := false
	for start := 0; start < len(ids); {
		end, size := start, binary.MaxVarintLen64+len(data)
		for end < len(ids) && (end == start || size+binary.MaxVarintLen64+len(ids[end]) <= limit) {
			size += binary.MaxVarintLen64 + len(ids[end])
			end++
		}
		chunk := ids[start:end]
		reply, err := n.request(ctx, owner, opPostMany, "", encodePostMany(chunk, data))
		if err == nil && len(reply) != len(chunk) {
			err = fmt.Errorf("%w: node %d: postmany reply of %d statuses for %d ids", ErrRemote, owner, len(reply), len(chunk))
		}
		for j := range chunk {
			e := err
			if e == nil {
				e = postManyError(reply[j])
			}
			if e != nil {
				errs[start+j], failed = e, true
			}
		}
		start = end
	}
	if !failed {
		return nil
	}
	return errs
}

// postManyStatus is a PostMany reply's status byte per id; the errors are those of
// wireErrors.
var postManyStatus = []string{statusOK, statusGone, statusLimit, statusTooLarge, statusError}

func postManyByte(err error) byte {
	st := wireStatus(err)
	for i, s := range postManyStatus {
		if s == st {
			return byte(i)
		}
	}
	return byte(len(postManyStatus) - 1) // statusError
}

func postManyError(b byte) error {
	if int(b) >= len(postManyStatus) {
		return fmt.Errorf("%w: unknown postmany status %d", ErrRemote, b)
	}
	st := postManyStatus[b]
	if st == statusOK {
		return nil
	}
	for _, w := range wireErrors {
		if st == w.status {
			return w.err
		}
	}
	return fmt.Errorf("%w: the owner failed to post", ErrRemote)
}

func encodePostMany(ids []string, data []byte) []byte {
	size := binary.MaxVarintLen64 + len(data)
	for _, id := range ids {
		size += binary.MaxVarintLen64 + len(id)
	}
	b := make([]byte, 0, size)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	return append(b, data...)
}

// decodePostMany reads what encodePostMany wrote; at most maxIDs ids.
func decodePostMany(b []byte, maxIDs int) (ids []string, data []byte, err error) {
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(maxIDs) {
		return nil, nil, fmt.Errorf("postmany: bad id count")
	}
	b = b[k:]
	ids = make([]string, 0, count)
	for range count {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, nil, fmt.Errorf("postmany: truncated id")
		}
		ids = append(ids, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	return ids, b, nil
}

// Get describes the connection, on this node or through its owner.
func (n *NATS) Get(ctx context.Context, id string) (cluster.Info, error) {
	owner, ok := n.nodeOf(id)
	if !ok {
		return cluster.Info{}, cluster.ErrGone
	}
	if owner == n.node {
		return n.local.Get(ctx, id)
	}
	data, err := n.request(ctx, owner, opGet, id, nil)
	if err != nil {
		return cluster.Info{}, err
	}
	var w wireInfo
	if err := json.Unmarshal(data, &w); err != nil {
		return cluster.Info{}, fmt.Errorf("%w: node %d: bad get reply: %v", ErrRemote, owner, err)
	}
	return cluster.Info(w), nil
}

// Delete closes the connection, on this node or through its owner.
func (n *NATS) Delete(ctx context.Context, id string) error {
	owner, ok := n.nodeOf(id)
	if !ok {
		return cluster.ErrGone
	}
	if owner == n.node {
		return n.local.Delete(ctx, id)
	}
	_, err := n.request(ctx, owner, opDelete, id, nil)
	return err
}

// request sends op for connection id to its owner and returns the reply's data.
func (n *NATS) request(ctx context.Context, owner byte, op, id string, data []byte) ([]byte, error) {
	// Not connected: fail now rather than let nats.go buffer the request until it
	// reconnects, which would deliver it after the caller was told it failed.
	if !n.nc.IsConnected() {
		return nil, fmt.Errorf("%w: not connected to NATS (request to node %d)", ErrUnavailable, owner)
	}
	m := &nats.Msg{Subject: n.prefix[owner] + op, Header: nats.Header{}, Data: data}
	if id != "" {
		m.Header.Set(hdrConnID, id)
	}
	rctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	reply, err := n.nc.RequestMsgWithContext(rctx, m)
	if err != nil {
		return nil, n.requestError(ctx, owner, err)
	}
	st := reply.Header.Get(hdrStatus)
	switch st {
	case statusOK:
		return reply.Data, nil
	case statusError:
		return nil, fmt.Errorf("%w: node %d: %s", ErrRemote, owner, reply.Header.Get(hdrError))
	}
	for _, w := range wireErrors {
		if st == w.status {
			return nil, w.err
		}
	}
	return nil, fmt.Errorf("%w: node %d: unknown reply status %q", ErrRemote, owner, st)
}

// wireErrors are the errors one node's reply carries to another, by their status on the
// wire: the one mapping of cluster errors, both ways.
var wireErrors = []struct {
	err    error
	status string
}{
	{cluster.ErrGone, statusGone},
	{cluster.ErrLimitExceeded, statusLimit},
	{cluster.ErrPayloadTooLarge, statusTooLarge},
}

// wireStatus is the reply status of err ("" for one that has none: an internal error).
func wireStatus(err error) string {
	if err == nil {
		return statusOK
	}
	for _, w := range wireErrors {
		if errors.Is(err, w.err) {
			return w.status
		}
	}
	return ""
}

// requestError maps a failed request: nobody subscribed to the owner's subject, or the
// owner did not answer within Timeout while we are connected, means the owner is gone;
// the caller's own cancellation is returned as is; not being connected is ErrUnavailable.
func (n *NATS) requestError(ctx context.Context, owner byte, err error) error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w: node %d has no subscriber", cluster.ErrGone, owner)
	case ctx.Err() != nil:
		return fmt.Errorf("cluster: request to node %d: %w", owner, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		if !n.nc.IsConnected() {
			return fmt.Errorf("%w: not connected to NATS (request to node %d timed out)", ErrUnavailable, owner)
		}
		return fmt.Errorf("%w: node %d did not answer within %v", cluster.ErrGone, owner, n.timeout)
	case errors.Is(err, nats.ErrMaxPayload):
		return fmt.Errorf("%w: above NATS max_payload: %v", cluster.ErrPayloadTooLarge, err)
	default:
		return fmt.Errorf("%w: request to node %d: %v", ErrUnavailable, owner, err)
	}
}

// dispatch hands a request to a goroutine of its own, waiting while maxServing are
// being answered.
func (n *NATS) dispatch(m *nats.Msg) {
	n.slots <- struct{}{}
	n.serving.Add(1)
	go func() {
		defer n.serving.Done()
		defer func() { <-n.slots }()
		defer func() {
			if e := recover(); e != nil {
				// A bug answering one request fails that request, not the node.
				n.log.Error("cluster: panic answering another node (recovered)", "panic", fmt.Sprint(e), "stack", string(debug.Stack()))
				if n.onPanic != nil {
					n.onPanic()
				}
				_ = m.RespondMsg(&nats.Msg{Header: nats.Header{hdrStatus: []string{statusError}, hdrError: []string{"internal error"}}})
			}
		}()
		n.serve(m)
	}()
}

// serve answers another node's request for one of this node's connections.
func (n *NATS) serve(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	op := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	id := m.Header.Get(hdrConnID)
	reply := &nats.Msg{Header: make(nats.Header, 2)}
	var err error
	switch op {
	case opPing:
	case opPost:
		err = n.local.Post(context.Background(), id, m.Data)
	case opPostMany:
		var ids []string
		var data []byte
		if ids, data, err = decodePostMany(m.Data, cluster.MaxPostMany); err == nil {
			errs := n.local.PostMany(context.Background(), ids, data)
			reply.Data = make([]byte, len(ids))
			for i := range errs {
				reply.Data[i] = postManyByte(errs[i])
			}
		}
	case opGet:
		var info cluster.Info
		if info, err = n.local.Get(context.Background(), id); err == nil {
			reply.Data, err = json.Marshal(wireInfo(info))
		}
	case opDelete:
		err = n.local.Delete(context.Background(), id)
	default:
		err = fmt.Errorf("unknown operation %q", op)
	}
	if st := wireStatus(err); st != "" {
		reply.Header.Set(hdrStatus, st)
	} else {
		n.log.Error("cluster: answering another node", "op", op, "connection_id", id, "err", err)
		reply.Header.Set(hdrStatus, statusError)
		reply.Header.Set(hdrError, err.Error())
	}
	if err := m.RespondMsg(reply); err != nil {
		n.log.Warn("cluster: reply to another node", "op", op, "err", err)
	}
}
