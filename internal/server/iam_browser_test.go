package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestIAMBrowserPresignedURL: a browser cannot set headers on a WebSocket handshake, so
// a presigned URL is how a page connects to an AWS_IAM $connect. Headless Chromium opens
// `new WebSocket(presignedURL)` (signed by aws-sdk-go-v2's presigner, as a backend would
// hand it to the page), gets its echo, and the CONNECT event names the signer and
// Chromium's User-Agent; the same URL with a changed signature never opens. It fails,
// not skips, without Chromium (scripts/test installs it).
func TestIAMBrowserPresignedURL(t *testing.T) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed: the browser tests need the Debian package chromium (scripts/test installs it: apt-get install chromium): %v", err)
	}
	f := iamLambda(t)
	r := startGateway(t, iamConfig("http://127.0.0.1:1"), Deps{Lambda: f.client(), Getenv: iamEnv})
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("<!doctype html><title>iam</title><body>iam</body>"))
	}))
	t.Cleanup(page.Close)

	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()), chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true))
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(page.URL)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	connect := func(u string) string {
		t.Helper()
		js := fmt.Sprintf(`new Promise((resolve) => {
			const ws = new WebSocket(%q);
			ws.onopen = () => ws.send(JSON.stringify({action: "hello"}));
			ws.onmessage = (e) => { resolve("echo " + e.data); ws.close(1000); };
			ws.onclose = (e) => resolve("closed " + e.code);
		})`, u)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("evaluating the page's script: %v", err)
		}
		return got
	}

	u := presignWS(t, r.WebSocket, "/prod?room=browser", iamAlice, time.Now(), time.Minute)
	if got := connect(u); got != `echo you said {"action":"hello"}` {
		t.Fatalf("the browser got %q, want the echo\nlogs:\n%s", got, r.logs.String())
	}
	id := f.next(t, "CONNECT").RequestContext.Identity
	if id.AccessKey != "AKIDALICE" || id.UserArn != "arn:aws:iam::123456789012:user/alice" || !strings.Contains(id.UserAgent, "Chrome") {
		t.Errorf("CONNECT identity %+v, want alice's and Chromium's User-Agent", id)
	}

	i := strings.Index(u, "X-Amz-Signature=") + len("X-Amz-Signature=")
	flipped := u[:i] + map[bool]string{true: "1", false: "0"}[u[i] == '0'] + u[i+1:]
	if got := connect(flipped); got != "closed 1006" {
		t.Fatalf("a changed signature: the browser got %q, want closed 1006 (the handshake refused)", got)
	}
	if !strings.Contains(r.logs.String(), `"outcome":"iam_denied"`) {
		t.Errorf("the gateway did not log the refusal as iam_denied:\n%s", r.logs.String())
	}
}
