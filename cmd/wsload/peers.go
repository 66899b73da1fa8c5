package main

// The peers of the bench (bench/run peers): the same scenarios driven against
// Centrifugo and a bare gws server, so that wsgate's figures have something to be
// read against. This file holds what differs per target; the scenarios, the pacing,
// the recorders and the /proc meters are shared, so every target sees the same load.
//
//	-target baregws     bench/peers/baregws: no cookies, {"action":"whoami"} answered with
//	                    {"id":...}, POST /@connections/{id} — wsgate's own shapes, so the
//	                    only difference is the client sends no credentials.
//	-target baregws-jwt the same server run with -jwt-secret-env, which checks the JWT
//	                    cookie and the csrf parameter: the client sends them, as to wsgate.
//	-target centrifugo  Centrifugo's JSON protocol over /connection/websocket: the first
//	                    frame is {"id":1,"connect":{"token":JWT}} and the handshake ends
//	                    with its reply; a push is POST /api/publish to the user's personal
//	                    channel "#<sub>", to which Centrifugo subscribes the connection
//	                    server-side (client.subscribe_to_user_personal_channel), with
//	                    X-API-Key from $WSLOAD_CENTRIFUGO_API_KEY.
//
// Why the personal channel is the analogue of POST @connections/{id}: it addresses one
// connection (each load connection has its own sub) from the backend over HTTP with no
// step by the client (no subscribe command, as a wsgate client sends nothing to be
// pushed to). Centrifugo answers 200 to a publish to a channel nobody is subscribed
// to — it has no 410 — so the stale share is counted by what was asked, not answered.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lxzan/gws"
)

const (
	targetWsgate     = "wsgate"
	targetBareGWS    = "baregws"
	targetBareGWSJWT = "baregws-jwt"
	targetCentrifugo = "centrifugo"
)

// centrifugoAPIKeyEnv holds the key of Centrifugo's server HTTP API.
const centrifugoAPIKeyEnv = "WSLOAD_CENTRIFUGO_API_KEY"

// applyTarget adjusts the flags for a peer target: a peer gets no cookies, and
// Centrifugo's API key comes from the environment (never the command line).
func applyTarget(c *loadConfig, getenv func(string) string) error {
	switch c.target {
	case targetBareGWS:
		c.auth = false
	case targetBareGWSJWT: // the cookies and the csrf parameter are sent, as to wsgate
	case targetCentrifugo:
		c.auth = false
		c.apiKey = getenv(centrifugoAPIKeyEnv)
		if c.apiKey == "" {
			return errors.New("-target centrifugo needs the HTTP API key in " + centrifugoAPIKeyEnv)
		}
	}
	return nil
}

// helloTimeout bounds the wait for Centrifugo's connect reply.
const helloTimeout = 15 * time.Second

// hello completes the protocol's own handshake after the WebSocket one: for
// Centrifugo, the connect command with the token and its reply, which also tells the
// client its channel (its sub). Other targets have none.
func (l *loader) hello(c *client, tok token) error {
	if l.cfg.target != targetCentrifugo {
		return nil
	}
	jwtStr := bearer(tok)
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(jwtStr, &claims); err != nil {
		return fmt.Errorf("centrifugo: own token: %w", err)
	}
	b, err := json.Marshal(map[string]any{"id": 1, "connect": map[string]string{"token": jwtStr}})
	if err != nil {
		return err
	}
	if err := c.ws.WriteMessage(gws.OpcodeText, b); err != nil {
		return err
	}
	t := time.NewTimer(helloTimeout)
	defer t.Stop()
	select {
	case r := <-c.idCh:
		if r != "" {
			return errors.New("centrifugo connect: " + r)
		}
		sub := claims.Subject
		c.id.Store(&sub)
		return nil
	case <-t.C:
		return errors.New("centrifugo connect: no reply")
	}
}

// bearer is the JWT inside a token's cookie header ("JWT=<jwt>; CSRF-TOKEN=...").
func bearer(tok token) string {
	_, s, _ := strings.Cut(tok.cookie, "JWT=")
	s, _, _ = strings.Cut(s, ";")
	return s
}

// centrifugoFrame handles one frame from Centrifugo: replies and pushes, one JSON
// object a line (Centrifugo batches them). An empty object is the server's ping,
// answered with an empty object (pong).
func (c *client) centrifugoFrame(b []byte, now time.Time, slow bool, pong func()) {
	l := c.l
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		switch {
		case len(line) == 0:
		case string(line) == "{}":
			pong()
		case bytes.HasPrefix(line, []byte(`{"push":`)):
			if t, ok := timestamp(line); ok {
				l.received.Add(1)
				if !slow {
					l.delivered(c.idx, now, t, line)
				}
				continue
			}
			l.badFrames.Add(1)
			l.noteError("centrifugo push: " + truncate(string(line), 120))
		case bytes.HasPrefix(line, []byte(`{"id":1,"connect":`)):
			c.answer("")
		case bytes.HasPrefix(line, []byte(`{"id":1,"error":`)):
			c.answer(truncate(string(line), 120))
		default:
			l.badFrames.Add(1)
			l.noteError("centrifugo frame: " + truncate(string(line), 120))
		}
	}
}

// answer hands hello its reply ("" for success) without blocking.
func (c *client) answer(s string) {
	select {
	case c.idCh <- s:
	default:
	}
}

// publish is the Centrifugo analogue of POST @connections/{id}: POST /api/publish to
// the connection's personal channel.
func (p *poster) publish(j postJob) {
	data := sentFrame("{", j.at, time.Now(), p.l.cfg.payload)
	body := make([]byte, 0, len(data)+len(j.id)+32)
	body = append(body, `{"channel":`...)
	body, _ = appendJSONString(body, "#"+j.id)
	body = append(body, `,"data":`...)
	body = append(body, data...)
	body = append(body, '}')
	req, err := http.NewRequest(http.MethodPost, p.l.cfg.mgmtURL+"/api/publish", bytes.NewReader(body))
	if err != nil {
		p.tally.transport.Add(1)
		p.l.noteError(err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", p.l.cfg.apiKey)
	if lag := p.l.sendLag.Load(); lag != nil {
		lag.add(int(j.at.UnixNano()), time.Since(j.at))
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		p.tally.transport.Add(1)
		p.l.noteError("publish: " + err.Error())
		return
	}
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	// Centrifugo reports a failed command with 200 and {"error":{...}} in the body.
	if resp.StatusCode != http.StatusOK || bytes.Contains(rb, []byte(`"error"`)) {
		p.tally.other.Add(1)
		p.l.noteError(fmt.Sprintf("publish: %d %s", resp.StatusCode, truncate(string(rb), 100)))
		return
	}
	if j.stale {
		p.tally.goneStale.Add(1)
		return
	}
	p.tally.ok.Add(1)
}

func appendJSONString(b []byte, s string) ([]byte, error) {
	q, err := json.Marshal(s)
	return append(b, q...), err
}

// peerLabel is the label bench/run gives every run of the peers group.
const peerLabel = "peers"

// peerTargets are the peers, in the order of the table's columns.
var peerTargets = []string{targetCentrifugo, targetBareGWS}

// peerRow is one figure of the Peers table, computed from a group's medians.
type peerRow struct {
	scenario string
	what     string // the figure, and which way is better
	fig      func(g *group) (float64, bool)
	format   func(float64) string
}

// cpuPer1k is a process's CPU-seconds per 1,000 operations: average cores over the
// phase divided by the operations per second of the phase, times 1,000.
func cpuPer1k(cores, perSecond string) func(g *group) (float64, bool) {
	return func(g *group) (float64, bool) {
		c, ok1 := g.median(cores)
		r, ok2 := g.median(perSecond)
		if !ok1 || !ok2 || r <= 0 {
			return 0, false
		}
		return c / r * 1000, true
	}
}

func p99(name string) func(g *group) (float64, bool) {
	return func(g *group) (float64, bool) { return g.latency(name, func(l Latency) float64 { return l.P99 }) }
}

func median(fig string) func(g *group) (float64, bool) {
	return func(g *group) (float64, bool) { return g.median(fig) }
}

var peerRows = []peerRow{
	{"idle", "RSS per idle connection, KiB (lower is better)", median("rss_per_conn_kib"), f1},
	{"connect", "handshakes/s; wsgate and Centrifugo authenticate (JWT), bare gws does not (higher is better)", median("connects_per_s"), f0},
	{"connect", "server CPU-s per 1,000 handshakes (lower is better)", cpuPer1k("connect_gateway_cores", "connects_per_s"), f2},
	{"connect", "handshake p99, ms", p99("handshake"), f1},
	{"push", "pushes/s answered (higher is better)", median("posts_per_s"), f0},
	{"push", "server CPU-s per 1,000 pushes (lower is better)", cpuPer1k("gateway_cores", "posts_per_s"), f2},
	{"push", "delivery p99, ms", p99("delivery"), f1},
}

// writePeers writes the Peers table: each figure for wsgate and each peer that ran
// (label "peers"), and the ratio wsgate ÷ peer.
func writePeers(w io.Writer, groups map[string]*group) {
	get := func(target, scenario string) *group { return groups[target+"/"+scenario+"/"+peerLabel] }
	header := false
	for _, pr := range peerRows {
		a := get(targetWsgate, pr.scenario)
		if a == nil {
			continue
		}
		va, ok := pr.fig(a)
		if !ok {
			continue
		}
		if !header {
			fmt.Fprintf(w, "\n## Peers (same load generator, same machine, runs interleaved)\n\n")
			fmt.Fprintf(w, "| scenario | figure | wsgate | Centrifugo | bare gws | wsgate ÷ Centrifugo | wsgate ÷ bare gws | errors wsgate / Centrifugo / bare gws |\n|---|---|---|---|---|---|---|---|\n")
			header = true
		}
		cells := []string{pr.format(va)}
		var ratios []string
		errs := []string{fmt.Sprint(a.errors())}
		for _, t := range peerTargets {
			b := get(t, pr.scenario)
			vb, ok := 0.0, false
			if b != nil {
				vb, ok = pr.fig(b)
				errs = append(errs, fmt.Sprint(b.errors()))
			} else {
				errs = append(errs, "–")
			}
			if !ok {
				cells = append(cells, "–")
				ratios = append(ratios, "–")
				continue
			}
			cells = append(cells, pr.format(vb))
			if vb > 0 {
				ratios = append(ratios, fmt.Sprintf("%.2f", va/vb))
			} else {
				ratios = append(ratios, "–")
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", pr.scenario, pr.what, strings.Join(cells, " | "), strings.Join(ratios, " | "), strings.Join(errs, " / "))
	}
}
