package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// loadConfig is one scenario's parameters (flags).
type loadConfig struct {
	target     string // what is measured, for the report: wsgate or serverless-offline
	wsURL      string // ws://host:port/path
	mgmtURL    string // the @connections base: http://host:port/{stage}
	metricsURL string // the gateway's /metrics; "" when it has none
	pid        int    // the gateway's pid, for RSS and CPU; 0: unknown
	backendPID int    // the integration backend's pid, for CPU; 0: unknown

	auth    bool   // send cookies and ?csrf=
	secret  string // HS256 secret
	keyFile string // PEM private key (ES256); overrides secret
	srcIPs  int    // source addresses 127.0.0.1..srcIPs

	n        int           // connections
	conc     int           // handshakes in flight
	rate     float64       // messages or POSTs per second (open loop)
	duration time.Duration // of the traffic phase
	payload  int           // bytes of padding per message
	writers  int           // goroutines issuing POSTs or writes

	stale     float64 // share of POSTs to ids that do not exist
	signed    bool    // SigV4-sign POSTs
	accessKey string
	secretKey string
	region    string
	apiKey    string // Centrifugo's server API key (peers.go)

	slow     float64       // share of slow readers (fanout)
	rounds   int           // batch posts (broadcast)
	stallFor time.Duration // how long a slow reader stalls per message

	hold       time.Duration // idle: how long connections stay open before measuring
	sampleEach time.Duration // soak: sampling period
	routeRate  float64       // soak: route messages per second
}

// loader runs scenarios; the client handlers report into it.
type loader struct {
	cfg loadConfig
	lat atomic.Pointer[recorder]
	// sendLag, when set, records how late each POST leaves against its scheduled time
	// (the pacer's lag, the wait for a free writer, the signing): the generator's share
	// of a delivery's latency, which is measured from the scheduled time.
	sendLag atomic.Pointer[recorder]
	// fromSend, when set, records each delivery's latency from the time the generator
	// started sending it (the frame's "s"), which leaves the generator's lag out.
	fromSend atomic.Pointer[recorder]

	received     atomic.Int64
	badFrames    atomic.Int64
	closedByPeer atomic.Int64

	stall    atomic.Bool
	stallFor time.Duration
	done     chan struct{}
	onClose  atomic.Pointer[func(*client)]

	errMu      sync.Mutex
	errSamples []string
}

func newLoader(cfg loadConfig) *loader {
	if cfg.srcIPs <= 0 {
		cfg.srcIPs = 1
	}
	if cfg.conc <= 0 {
		cfg.conc = 64
	}
	if cfg.writers <= 0 {
		cfg.writers = 64
	}
	if cfg.region == "" {
		cfg.region = "us-east-1"
	}
	l := &loader{cfg: cfg, done: make(chan struct{}), stallFor: cfg.stallFor}
	l.lat.Store(&recorder{})
	return l
}

func (l *loader) noteError(s string) {
	l.errMu.Lock()
	if len(l.errSamples) < 10 {
		l.errSamples = append(l.errSamples, s)
	}
	l.errMu.Unlock()
}

// pace calls emit rate times per second for d (or until ctx ends), from one goroutine,
// with the time each call was scheduled for. emit must not block: it reports false
// when the work could not be handed over (the system under test is behind), which is
// counted as dropped. Latency measured from the scheduled time includes any queueing,
// so a stall is not hidden (no coordinated omission).
func pace(ctx context.Context, rate float64, d time.Duration, emit func(seq int64, at time.Time) bool) (issued, dropped int64) {
	if rate <= 0 {
		return 0, 0
	}
	t0 := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	end := t0.Add(d)
	for {
		now := time.Now()
		if now.After(end) {
			now = end
		}
		due := int64(rate * now.Sub(t0).Seconds())
		for issued < due {
			at := t0.Add(time.Duration(float64(issued) / rate * float64(time.Second)))
			if !emit(issued, at) {
				dropped++
			}
			issued++
		}
		if !now.Before(end) {
			return issued, dropped
		}
		select {
		case <-ctx.Done():
			return issued, dropped
		case <-tick.C:
		}
	}
}

// frame is a timestamped message with padding.
func frame(prefix string, at time.Time, pad int) []byte {
	return sentFrame(prefix, at, time.Time{}, pad)
}

// sentFrame is frame with, unless sent is zero, the time the generator started sending
// it ("s"), beside the time it was scheduled for ("t").
func sentFrame(prefix string, at, sent time.Time, pad int) []byte {
	b := make([]byte, 0, len(prefix)+64+pad)
	b = append(b, prefix...)
	b = append(b, `"t":`...)
	b = strconv.AppendInt(b, at.UnixNano(), 10)
	if !sent.IsZero() {
		b = append(b, `,"s":`...)
		b = strconv.AppendInt(b, sent.UnixNano(), 10)
	}
	b = append(b, `,"p":"`...)
	for range pad {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// postJob is one POST @connections/{id}.
type postJob struct {
	id    string
	at    time.Time
	stale bool // the id does not exist: 410 expected
	slow  bool // the target is a slow reader: 429 expected
}

// postTally counts POST outcomes.
type postTally struct {
	ok, goneStale, goneLive, limited, limitedSlow, other, transport atomic.Int64
}

func (t *postTally) errors() map[string]int {
	m := map[string]int{}
	add := func(k string, v int64) {
		if v > 0 {
			m[k] = int(v)
		}
	}
	add("post_410_live", t.goneLive.Load())
	add("post_429_fast", t.limited.Load())
	add("post_other_status", t.other.Load())
	add("post_transport", t.transport.Load())
	return m
}

func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// poster issues POSTs from jobs with cfg.writers goroutines.
type poster struct {
	l      *loader
	hc     *http.Client
	signer *v4.Signer
	creds  aws.Credentials
	tally  postTally
}

func (l *loader) newPoster() *poster {
	p := &poster{l: l, hc: newHTTPClient(l.cfg.writers)}
	if l.cfg.signed {
		p.signer = v4.NewSigner()
		p.creds = aws.Credentials{AccessKeyID: l.cfg.accessKey, SecretAccessKey: l.cfg.secretKey}
	}
	return p
}

func (p *poster) run(jobs <-chan postJob) {
	var wg sync.WaitGroup
	for range p.l.cfg.writers {
		wg.Go(func() {
			for j := range jobs {
				p.post(j)
			}
		})
	}
	wg.Wait()
}

func (p *poster) post(j postJob) {
	if p.l.cfg.target == targetCentrifugo { // peers.go
		p.publish(j)
		return
	}
	body := sentFrame("{", j.at, time.Now(), p.l.cfg.payload)
	u := p.l.cfg.mgmtURL + "/@connections/" + url.PathEscape(j.id)
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		p.tally.transport.Add(1)
		p.l.noteError(err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if p.signer != nil {
		sum := sha256.Sum256(body)
		req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		if err := p.signer.SignHTTP(context.Background(), p.creds, req, hex.EncodeToString(sum[:]), "execute-api", p.l.cfg.region, time.Now()); err != nil {
			p.tally.transport.Add(1)
			p.l.noteError(err.Error())
			return
		}
	}
	if lag := p.l.sendLag.Load(); lag != nil {
		lag.add(int(j.at.UnixNano()), time.Since(j.at))
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		p.tally.transport.Add(1)
		p.l.noteError("post: " + err.Error())
		return
	}
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusNoContent:
		// AWS and wsgate answer 200; serverless-offline answers 204.
		p.tally.ok.Add(1)
	case resp.StatusCode == http.StatusGone && j.stale:
		p.tally.goneStale.Add(1)
	case resp.StatusCode == http.StatusGone:
		p.tally.goneLive.Add(1)
	case resp.StatusCode == http.StatusTooManyRequests && j.slow:
		p.tally.limitedSlow.Add(1)
	case resp.StatusCode == http.StatusTooManyRequests:
		p.tally.limited.Add(1)
	default:
		p.tally.other.Add(1)
		p.l.noteError(fmt.Sprintf("post: %d %s", resp.StatusCode, truncate(string(rb), 100)))
	}
}

// staleID is a well-formed connection id that no connection has (node byte 0xfe).
func staleID() string {
	b := []byte{0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for i := 1; i < len(b); i++ {
		b[i] = byte(rand.Uint32())
	}
	return base64.StdEncoding.EncodeToString(b)
}
