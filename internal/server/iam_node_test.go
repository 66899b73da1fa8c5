package server

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIAMNodeClient presigns the handshake URL with the AWS SDK for JavaScript v3's
// signer (@smithy/signature-v4, pinned in internal/mgmt/interop/package-lock.json) and
// connects with the ws package, through internal/mgmt/interop/iam_client.mjs: the good
// key connects and gets its echo, with its identity in the CONNECT event; a wrong secret
// and an expired URL get 403 with AWS's message. It fails, not skips, when node or the
// npm packages are missing: scripts/test installs them.
func TestIAMNodeClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (%v): install Node.js, then run npm ci in internal/mgmt/interop (scripts/test does it)", err)
	}
	interop := filepath.Join("..", "mgmt", "interop")
	for _, pkg := range []string{"@smithy/signature-v4", "ws"} {
		if _, err := os.Stat(filepath.Join(interop, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("%s is not installed (%v): run npm ci in internal/mgmt/interop (scripts/test does it)", pkg, err)
		}
	}
	f := iamLambda(t)
	r := startGateway(t, iamConfig("http://127.0.0.1:1"), Deps{Lambda: f.client(), Getenv: iamEnv})

	run := func(t *testing.T, secret string, signAt time.Time) (status int, body, echo string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, filepath.Join(interop, "iam_client.mjs"))
		cmd.Env = append(os.Environ(),
			"WS_URL="+r.wsURL("/prod?room=node"), "AWS_REGION=us-east-1",
			"AK=AKIDALICE", "SK="+secret, "EXPIRES=60", "SIGN_AT="+strconv.FormatInt(signAt.UnixMilli(), 10))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("iam_client.mjs: %v\n%s", err, out)
		}
		var res struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
			Echo   string `json:"echo"`
			Error  string `json:"error"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("iam_client.mjs printed %q: %v", out, err)
		}
		if res.Error != "" {
			t.Fatalf("iam_client.mjs: %s", res.Error)
		}
		return res.Status, res.Body, res.Echo
	}

	t.Run("good", func(t *testing.T) {
		status, _, echo := run(t, iamAliceSecret, time.Now())
		if status != 101 || echo != `you said {"action":"echo","text":"from node"}` {
			t.Fatalf("status %d echo %q, want 101 and the echo\nlogs:\n%s", status, echo, r.logs.String())
		}
		ev := f.next(t, "CONNECT")
		if id := ev.RequestContext.Identity; id.AccessKey != "AKIDALICE" || id.UserArn != "arn:aws:iam::123456789012:user/alice" || id.AccountID != "123456789012" {
			t.Errorf("CONNECT identity %+v", id)
		}
		if q := ev.QueryStringParameters; len(q) != 1 || q["room"] != "node" {
			t.Errorf("CONNECT queryStringParameters %v, want only room=node", q)
		}
	})
	for _, tc := range []struct {
		name, secret string
		signAt       time.Time
		want         string
	}{
		{"wrong secret", "guess", time.Now(), "The request signature we calculated does not match"},
		{"expired", iamAliceSecret, time.Now().Add(-2 * time.Minute), "Signature expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := run(t, tc.secret, tc.signAt)
			if status != 403 || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d body %q, want 403 with %q", status, body, tc.want)
			}
		})
	}
}
