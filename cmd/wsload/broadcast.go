package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// broadcast measures wsgate's batch post (an extension): one signed request carrying
// one payload for every connection, -rounds times. A round's figure is the time from
// the request leaving to the last client receiving the payload (each frame carries its
// send time), so it includes the HTTP request, the gateway's fan-out and every
// WebSocket write.
func (l *loader) broadcast(ctx context.Context) (*Report, error) {
	r := l.newReport("broadcast")
	cs, _, _, err := l.connect(ctx, r, 0)
	if err != nil {
		return nil, err
	}
	defer l.drain(ctx, cs)
	l.learnIDs(r, cs)
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		if id := c.connID(); id != "" {
			ids = append(ids, id)
		}
	}
	r.Figures["conns"] = float64(len(ids))
	if len(ids) == 0 {
		return l.finish(r), nil
	}
	p := l.newPoster()
	rounds := &recorder{}   // completion time of each round
	requests := &recorder{} // the batch request's own response time
	deliveries := &recorder{}
	l.lat.Store(deliveries)
	cpu := l.startCPU()
	for round := range l.cfg.rounds {
		if ctx.Err() != nil {
			break
		}
		before := l.received.Load()
		perRound := &recorder{}
		l.lat.Store(perRound)
		t0 := time.Now()
		if err := p.postMany(ctx, ids, frame("{", t0, l.cfg.payload)); err != nil {
			r.Errors["batch_post"]++
			l.noteError(err.Error())
			continue
		}
		requests.add(round, time.Since(t0))
		// Wait, bounded, for every delivery of this round.
		deadline := time.Now().Add(10 * time.Second)
		for l.received.Load()-before < int64(len(ids)) && time.Now().Before(deadline) {
			time.Sleep(200 * time.Microsecond)
		}
		if got := l.received.Load() - before; got < int64(len(ids)) {
			r.Errors["not_delivered"] += len(ids) - int(got)
		}
		s := perRound.summary()
		rounds.add(round, time.Duration(s.Max*float64(time.Millisecond)))
		deliveries.merge(perRound)
	}
	cpu.report(r, "")
	r.Latency["round"] = rounds.summary()
	r.Latency["request"] = requests.summary()
	r.Latency["delivery"] = deliveries.summary()
	r.Figures["rounds"] = float64(l.cfg.rounds)
	return l.finish(r), nil
}

// postMany sends one batch post to every id.
func (p *poster) postMany(ctx context.Context, ids []string, data []byte) error {
	body, err := json.Marshal(map[string]any{"connectionIds": ids, "data": string(data)})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.l.cfg.mgmtURL+"/@wsgate/post-to-connections", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.signer != nil {
		sum := sha256.Sum256(body)
		req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		if err := p.signer.SignHTTP(ctx, p.creds, req, hex.EncodeToString(sum[:]), "execute-api", p.l.cfg.region, time.Now()); err != nil {
			return err
		}
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("batch post: %d %s", resp.StatusCode, truncate(string(rb), 200))
	}
	var out struct {
		Failed []json.RawMessage `json:"failed"`
	}
	if err := json.Unmarshal(rb, &out); err != nil {
		return fmt.Errorf("batch post: answer %q: %w", truncate(string(rb), 200), err)
	}
	if len(out.Failed) > 0 {
		return fmt.Errorf("batch post: %d ids failed, first %s", len(out.Failed), out.Failed[0])
	}
	return nil
}
