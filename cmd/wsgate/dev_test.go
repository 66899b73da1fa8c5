package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/wsgate/wsgate/examples/chat"
	"github.com/wsgate/wsgate/internal/testutil"
)

var updateDocsImg = flag.Bool("update-docs-img", false, "rewrite docs/img/dev-chat.png from the browser test")

// devRun is a `wsgate dev` started in-process by startDev.
type devRun struct {
	devInfo
	logs *syncBuffer
}

// startDev runs runDev on port 0 with its CA in a temporary directory until the test
// ends.
func startDev(t *testing.T, tokenTTL time.Duration) *devRun {
	t.Helper()
	return startDevWith(t, devOptions{TokenTTL: tokenTTL})
}

// startDevWith is startDev with o's options; it sets o's Dir and Logger.
func startDevWith(t *testing.T, o devOptions) *devRun {
	t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan devInfo, 1)
	done := make(chan error, 1)
	o.Dir, o.Logger = t.TempDir(), slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() {
		done <- runDev(ctx, o, func(d devInfo) { ready <- d })
	}()
	var d devInfo
	select {
	case d = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("runDev: %v\nlogs:\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runDev returned %v", err)
		}
	})
	return &devRun{devInfo: d, logs: logs}
}

// artifactsDir is where screenshots go: $WSGATE_ARTIFACTS, or the repository's
// artifacts/ (ignored by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WSGATE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts headless Chromium with the dev hosts and evil.test mapped to loopback
// and certificate errors ignored (this throwaway profile only), and returns its context.
func browser(t *testing.T, hosts ...string) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed: the browser tests need the Debian package chromium (scripts/test installs it: apt-get install chromium): %v", err)
	}
	rules := make([]string, len(hosts))
	for i, h := range hosts {
		rules[i] = "MAP " + h + " 127.0.0.1"
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", strings.Join(rules, ", ")),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(900, 720),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	// Start the browser now, so that tabs made later share it.
	if err := chromedp.Do(bctx); err != nil {
		bcancel()
		acancel()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() { bcancel(); acancel() })
	return bctx
}

// handshake is one WebSocket handshake as Chromium's DevTools report it. DevTools show
// neither the Cookie header of a handshake nor the status of a refused one: the gateway's
// log and Chromium's console message tell those.
type handshake struct {
	URL    string
	Origin any
	Status int // 101 when it opened
}

// tab is a browser tab with its own cookie jar (a new browser context) or sharing
// another tab's, recording WebSocket handshakes and console messages through CDP.
type tab struct {
	ctx context.Context
	t   *testing.T

	mu         sync.Mutex
	handshakes map[network.RequestID]*handshake
	order      []network.RequestID
	console    []string
	changed    chan struct{}
}

func newTab(t *testing.T, parent context.Context, newProfile bool) *tab {
	t.Helper()
	var opts []chromedp.ContextOption
	if newProfile {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	tb := &tab{t: t, handshakes: map[network.RequestID]*handshake{}, changed: make(chan struct{}, 1)}
	opts = append(opts, chromedp.WithListener(tb.onEvent))
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	tb.ctx = ctx
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	return tb
}

func (tb *tab) hs(id network.RequestID) *handshake {
	h := tb.handshakes[id]
	if h == nil {
		h = &handshake{}
		tb.handshakes[id] = h
		tb.order = append(tb.order, id)
	}
	return h
}

func (tb *tab) onEvent(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventWebSocketWillSendHandshakeRequest:
		tb.hs(ev.RequestID).Origin = ev.Request.Headers["Origin"]
	case *network.EventWebSocketCreated:
		tb.hs(ev.RequestID).URL = ev.URL
	case *network.EventWebSocketHandshakeResponseReceived:
		tb.hs(ev.RequestID).Status = int(ev.Response.Status)
	case *cdplog.EventEntryAdded:
		tb.console = append(tb.console, ev.Entry.Text)
	}
	select {
	case tb.changed <- struct{}{}:
	default:
	}
}

func (tb *tab) dump() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var b strings.Builder
	for _, id := range tb.order {
		h := tb.handshakes[id]
		fmt.Fprintf(&b, "handshake %s (Origin %v): status %d\n", h.URL, h.Origin, h.Status)
	}
	for _, c := range tb.console {
		fmt.Fprintf(&b, "console: %s\n", c)
	}
	return b.String()
}

// do runs the steps, failing the test with the page's text and what CDP saw.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func (tb *tab) fatalf(format string, args ...any) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	tb.t.Fatalf(format+"\npage:\n%s\ncdp:\n%s", append(args, page, tb.dump())...)
}

// consoleCount is how many console messages the tab has seen so far.
func (tb *tab) consoleCount() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return len(tb.console)
}

// waitConsole waits for a console message after the first from that contains sub:
// Chromium reports there why a handshake failed ("HTTP Authentication failed" for
// 401, "Unexpected response code: 403").
func (tb *tab) waitConsole(from int, sub string) string {
	tb.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		tb.mu.Lock()
		for _, c := range tb.console[min(from, len(tb.console)):] {
			if strings.Contains(c, sub) {
				tb.mu.Unlock()
				return c
			}
		}
		tb.mu.Unlock()
		select {
		case <-tb.changed:
		case <-deadline:
			tb.fatalf("no console message containing %q", sub)
		}
	}
}

// historyLen is the number of connection states the page has shown.
func (tb *tab) historyLen() int {
	tb.t.Helper()
	return eval[int](tb, `chat.history.length`)
}

// waitHistory waits until the page has shown state (e.g. "open", "refused 1006",
// "closed 1000") since history entry from.
func (tb *tab) waitHistory(from int, state string) {
	tb.t.Helper()
	tb.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](fmt.Sprintf(`chat.history.slice(%d).includes(%q)`, from, state),
			chromedp.WithPollingTimeout(15*time.Second))(ctx, t)
		return err
	}))
}

// said returns what the page said with the first state since history entry from.
func (tb *tab) said(from int, state string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`chat.details[chat.history.indexOf(%q, %d)] ?? "state not shown"`, state, from))
}

// login opens the page and logs in as user; it returns when the socket is open.
func (tb *tab) login(d *devRun, user string) {
	tb.t.Helper()
	tb.do(
		chromedp.Navigate(d.UIURL),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.SetValue(chromedp.CSS("#user"), user),
		chromedp.Click(chromedp.CSS("#login-btn")),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="open"]`)),
	)
}

func (tb *tab) screenshot(name string) []byte {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactsDir(tb.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", path)
	return png
}

// refusal is a "connect refused" line of the gateway's log.
type refusal struct {
	Status  int    `json:"status"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
}

// refusals returns the handshakes the gateway refused, in order.
func (d *devRun) refusals() []refusal {
	var out []refusal
	for _, line := range strings.Split(d.logs.String(), "\n") {
		var r struct {
			Msg string `json:"msg"`
			refusal
		}
		if json.Unmarshal([]byte(line), &r) == nil && r.Msg == "connect refused" {
			out = append(out, r.refusal)
		}
	}
	return out
}

// waitRefusal waits for the gateway's refusal number n (counting from 0) and returns it.
func (d *devRun) waitRefusal(t *testing.T, n int) refusal {
	t.Helper()
	var r refusal
	testutil.Eventually(t, 10*time.Second, func() error {
		rs := d.refusals()
		if len(rs) <= n {
			return fmt.Errorf("the gateway refused %d handshakes, want %d; logs:\n%s", len(rs), n+1, d.logs.String())
		}
		r = rs[n]
		return nil
	})
	return r
}

// setCookie sets a cookie in the tab's profile: for the parent domain when domain is
// set, else host-only for the UI host.
func (tb *tab) setCookie(d *devRun, name, value, domain string, httpOnly bool, sameSite network.CookieSameSite) {
	tb.t.Helper()
	p := network.SetCookieParams{Name: name, Value: value, URL: d.UIURL, Path: "/",
		Secure: new(true), HTTPOnly: new(httpOnly), SameSite: sameSite}
	if domain != "" {
		p.Domain = "." + domain // CDP ignores a Domain cookie without the leading dot
	}
	if _, err := chromedp.Call(tb.ctx, network.SetCookie, p); err != nil {
		tb.fatalf("set cookie %s: %v", name, err)
	}
}

func (tb *tab) deleteCookies(d *devRun, names ...string) {
	tb.t.Helper()
	for _, n := range names {
		for _, p := range []network.DeleteCookiesParams{{Name: n, Domain: "." + d.Domain}, {Name: n, URL: d.UIURL}} {
			if _, err := chromedp.Call(tb.ctx, network.DeleteCookies, p); err != nil {
				tb.fatalf("delete cookie %s: %v", n, err)
			}
		}
	}
}

// cookiesFor returns the cookies the profile would send to url, by name.
func (tb *tab) cookiesFor(url string) map[string]*network.Cookie {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{strings.Replace(url, "wss://", "https://", 1)}})
	if err != nil {
		tb.fatalf("get cookies: %v", err)
	}
	m := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		m[c.Name] = c
	}
	return m
}

func cookieList(m map[string]*network.Cookie) string {
	var b strings.Builder
	for _, c := range m {
		fmt.Fprintf(&b, "%s (Domain %s, SameSite %s); ", c.Name, c.Domain, c.SameSite)
	}
	return b.String()
}

// evilSite serves https://{host}:PORT/ for any host: a page that opens a WebSocket to the ws host
// with a guessed CSRF token, as a cross-site WebSocket hijacking attempt would.
func evilSite(t *testing.T, wsURL string) func(host string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, evilPage, wsURL)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := strings.TrimPrefix(srv.Listener.Addr().String(), "127.0.0.1:")
	return func(host string) string { return "https://" + host + ":" + port + "/" }
}

const evilPage = `<!doctype html><html><head><meta charset="utf-8"><title>evil.test</title>
<style>body{font:15px system-ui,sans-serif;margin:0;background:#2b0d0d;color:#fff}
header{background:#8b0000;padding:12px 20px}main{padding:16px 20px}
#result{font-weight:bold;padding:4px 10px;border-radius:10px;background:#555;display:inline-block}
#result[data-state=refused]{background:#2e7d32}#result[data-state=open]{background:#ff1744}</style></head>
<body><header><h1 style="margin:0;font-size:20px"><span id="host"></span>: cross-site WebSocket hijacking attempt</h1></header>
<main><p>This page tries to open <code id="target"></code> with the victim's cookies and a guessed CSRF token.</p>
<p>result: <span id="result" data-state="pending">pending</span></p></main>
<script>
const url = %q + "?csrf=guessed-token";
document.getElementById("target").textContent = url;
document.getElementById("host").textContent = location.host;
const r = document.getElementById("result");
const ws = new WebSocket(url);
ws.onopen = () => { r.dataset.state = "open"; r.textContent = "HIJACKED: socket open"; ws.send(JSON.stringify({action: "send", text: "hijacked"})); };
ws.onclose = (e) => { if (r.dataset.state !== "open") { r.dataset.state = "refused"; r.textContent = "refused by the gateway before open (close code " + e.code + ")"; } };
</script></body></html>`

// TestBrowser runs `wsgate dev` in-process and drives headless Chromium through the six
// cases of the reference app's security model.
func TestBrowser(t *testing.T) {
	start := time.Now()
	d := startDev(t, 0)
	b := browser(t, d.UIHost, d.WSHost, "evil.test", "evil."+d.Domain, "other."+d.Domain)
	t.Logf("dev + chromium started in %v", time.Since(start).Round(time.Millisecond))

	t.Run("1 login, round trip, push to another user", func(t *testing.T) {
		alice, bob := newTab(t, b, true), newTab(t, b, true)
		alice.login(d, "alice")
		bob.login(d, "bob")
		alice.do(
			chromedp.SetValue(chromedp.CSS("#text"), "hello from alice"),
			chromedp.Click(chromedp.CSS("#send-btn")),
			chromedp.WaitVisible(`//ul[@id="messages"]/li[contains(., "hello from alice")]`),
		)
		bob.do(
			chromedp.WaitVisible(`//ul[@id="messages"]/li[contains(., "alice: hello from alice")]`),
			chromedp.SetValue(chromedp.CSS("#to"), "alice"),
			chromedp.SetValue(chromedp.CSS("#text"), "hi alice, just you"),
			chromedp.Click(chromedp.CSS("#send-btn")),
			chromedp.WaitVisible(`//ul[@id="messages"]/li[contains(., "bob → alice: hi alice, just you")]`),
		)
		alice.do(chromedp.WaitVisible(`//ul[@id="messages"]/li[contains(., "bob → alice: hi alice, just you")]`))
		if got := d.Chat.Stats(); got.Messages != 2 || got.Open < 2 {
			t.Errorf("backend stats = %+v, want 2 messages from 2 open connections", got)
		}
		png := alice.screenshot("state1-logged-in-round-trip.png")
		if *updateDocsImg {
			if err := os.WriteFile(filepath.Join("..", "..", "docs", "img", "dev-chat.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("2 no login: handshake refused 401", func(t *testing.T) {
		p := newTab(t, b, true)
		p.do(chromedp.Navigate(d.UIURL), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
		if !eval[bool](p, `document.getElementById("connect-btn").disabled`) {
			t.Error("Connect is enabled without a session")
		}
		n, c, h := len(d.refusals()), p.consoleCount(), p.historyLen()
		eval[bool](p, `chat.connect(), true`)
		p.waitHistory(h, "unauthenticated 1006")
		p.do(chromedp.WaitVisible(`//span[@id="state-detail"][contains(., "no valid session: log in · the gateway logged: 401 authorizer_unauthorized")]`))
		p.waitConsole(c, "HTTP Authentication failed")
		if r := d.waitRefusal(t, n); r.Status != 401 || !strings.Contains(r.Reason, "Cookie missing") {
			t.Errorf("gateway refusal = %+v, want 401 for the missing Cookie", r)
		}
	})

	t.Run("3 cross-site WebSocket hijacking refused", func(t *testing.T) {
		victim := newTab(t, b, true)
		victim.login(d, "alice")
		evilURL := evilSite(t, d.WSURL)
		before := d.Chat.Stats()

		// From another site, with the cookies as the backend sets them (SameSite=Lax),
		// Chromium does not even send them on the handshake: 401.
		evil := newTab(t, victim.ctx, false) // same profile: the victim's cookies
		n, cn := len(d.refusals()), evil.consoleCount()
		evil.do(chromedp.Navigate(evilURL("evil.test")), chromedp.WaitVisible(chromedp.CSS(`#result[data-state="refused"]`)))
		evil.waitConsole(cn, "HTTP Authentication failed")
		if r := d.waitRefusal(t, n); r.Status != 401 || !strings.Contains(r.Reason, "Cookie missing") {
			t.Errorf("evil.test: gateway refusal = %+v, want 401 (SameSite=Lax cookies not sent cross-site)", r)
		}
		evil.screenshot("state3-cross-site-refused.png")

		// From a sibling subdomain (same site: a user-content or compromised host under
		// the parent domain), SameSite does not help and the victim's cookies are sent:
		// the gateway verifies the victim's JWT and refuses on the Origin: 403.
		n, cn = len(d.refusals()), evil.consoleCount()
		evil.do(chromedp.Navigate(evilURL("evil."+d.Domain)), chromedp.WaitVisible(chromedp.CSS(`#result[data-state="refused"]`)))
		evil.waitConsole(cn, "403")
		if r := d.waitRefusal(t, n); r.Status != 403 || r.Reason != "Origin not allowed" {
			t.Errorf("evil.%s: gateway refusal = %+v, want 403 Origin not allowed (cookies sent, Origin refused)", d.Domain, r)
		}
		evil.screenshot("state3-sibling-subdomain-refused.png")
		if after := d.Chat.Stats(); after.Connects != before.Connects || after.Messages != before.Messages {
			t.Errorf("the backend saw the attack: stats before %+v, after %+v", before, after)
		}
	})

	t.Run("4 CSRF token of another session refused", func(t *testing.T) {
		alice, bob := newTab(t, b, true), newTab(t, b, true)
		alice.login(d, "alice")
		bob.login(d, "bob")
		bobToken := eval[string](bob, `sessionStorage.getItem("wsgate.csrf")`)
		before := d.Chat.Stats()
		n, c, h := len(d.refusals()), alice.consoleCount(), alice.historyLen()
		eval[bool](alice, fmt.Sprintf(`chat.connect(%q), true`, bobToken))
		alice.waitHistory(h, "refused 1006")
		alice.waitConsole(c, "403")
		if r := d.waitRefusal(t, n); r.Status != 403 || !strings.Contains(strings.ToLower(r.Reason), "csrf") {
			t.Errorf("gateway refusal = %+v, want 403 on the CSRF token", r)
		}
		if after := d.Chat.Stats(); after.Connects != before.Connects {
			t.Errorf("$connect reached the backend: %+v → %+v", before, after)
		}
		// The page backs off and reconnects with its own token.
		alice.waitHistory(h, "open")
		said := alice.said(h, "refused 1006")
		if r := d.refusals()[n]; !strings.Contains(said, "the CSRF token presented does not match this session") ||
			!strings.Contains(said, fmt.Sprintf("the gateway logged: %d %s — %s", r.Status, r.Outcome, r.Reason)) {
			t.Errorf("the page said %q for the refusal %+v", said, r)
		}
	})

	t.Run("5 logout closes the socket; an expired JWT cannot reconnect", func(t *testing.T) {
		alice := newTab(t, b, true)
		alice.login(d, "alice")
		if len(d.Chat.ConnectionsOf("alice")) == 0 {
			t.Fatal("the backend does not know alice's connection")
		}
		h := alice.historyLen()
		alice.do(chromedp.Click(chromedp.CSS("#logout-btn")))
		alice.waitHistory(h, "closed 1000")
		alice.do(chromedp.WaitVisible(chromedp.CSS(`#close-code[data-code="1000"]`)), chromedp.WaitVisible(chromedp.CSS("#login")))
		if got := d.Chat.ConnectionsOf("alice"); len(got) != 0 {
			t.Errorf("alice still has connections %v after logout", got)
		}
		if got := alice.cookiesFor(d.WSURL); len(got) != 0 {
			t.Errorf("cookies left after logout: %v", got)
		}

		csrf := "expired-session-token"
		tok, err := d.Chat.MintToken("alice", csrf, time.Now().Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		alice.setCookie(d, "JWT", tok, d.Domain, true, network.CookieSameSiteLax)
		alice.setCookie(d, chat.SessionCookie, csrf, "", true, network.CookieSameSiteStrict)
		n, c := len(d.refusals()), alice.consoleCount()
		h = alice.historyLen()
		eval[bool](alice, `chat.connect(), true`)
		alice.waitHistory(h, "expired 1006")
		alice.waitConsole(c, "HTTP Authentication failed")
		if r := d.waitRefusal(t, n); r.Status != 401 || !strings.Contains(r.Reason, "expired") {
			t.Errorf("gateway refusal = %+v, want 401 token expired", r)
		}
	})

	t.Run("7 a socket ends with 1008 when its JWT expires (CloseOnCredentialExpiry)", func(t *testing.T) {
		alice := newTab(t, b, true)
		alice.login(d, "alice")
		csrf := eval[string](alice, `sessionStorage.getItem("wsgate.csrf")`)
		if csrf == "" {
			t.Fatal("no CSRF token in sessionStorage after login")
		}
		// The same session, with a JWT that expires in two seconds.
		tok, err := d.Chat.MintToken("alice", csrf, time.Now().Add(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		alice.setCookie(d, "JWT", tok, d.Domain, true, network.CookieSameSiteLax)
		h := alice.historyLen()
		alice.do(chromedp.Click(chromedp.CSS("#disconnect-btn")))
		alice.waitHistory(h, "disconnected 1000")
		h = alice.historyLen()
		alice.do(chromedp.Click(chromedp.CSS("#connect-btn")))
		alice.waitHistory(h, "open")
		alice.waitHistory(h, "expired 1008")
		alice.do(chromedp.WaitVisible(chromedp.CSS(`#close-code[data-code="1008"]`)))
		if !strings.Contains(d.logs.String(), `"disconnectStatusCode":1008`) {
			t.Error("the gateway logged no disconnect with 1008")
		}
	})

	t.Run("6 cookies reach the ws host only through the parent Domain", func(t *testing.T) {
		alice := newTab(t, b, true)
		alice.login(d, "alice")
		got := alice.cookiesFor(d.WSURL)
		if c := got["JWT"]; c == nil || c.Domain != "."+d.Domain || len(got) != 1 {
			t.Errorf("cookies for the ws host = %s, want JWT alone with Domain .%s", cookieList(got), d.Domain)
		}
		// The CSRF token is in no cookie a sibling host receives: only the UI host's
		// __Host- cookie holds it.
		if c := alice.cookiesFor(d.UIURL)[chat.SessionCookie]; c == nil || c.Domain != d.UIHost || !c.HTTPOnly {
			t.Errorf("%s for the UI host = %+v, want host-only, HttpOnly", chat.SessionCookie, c)
		}
		jwt := got["JWT"].Value
		eval[bool](alice, `chat.disconnect(), true`)

		// The same JWT, host-only on the UI host: the page is still logged in, but the
		// ws host receives no cookie.
		alice.deleteCookies(d, "JWT")
		alice.setCookie(d, "JWT", jwt, "", true, network.CookieSameSiteLax)
		if ws, ui := alice.cookiesFor(d.WSURL), alice.cookiesFor(d.UIURL); len(ws) != 0 || ui["JWT"] == nil {
			t.Fatalf("host-only cookies: ws host gets %s, ui host gets %s", cookieList(ws), cookieList(ui))
		}
		n, h := len(d.refusals()), alice.historyLen()
		alice.do(chromedp.Click(chromedp.CSS("#connect-btn")))
		alice.waitHistory(h, "refused 1006")
		if r := d.waitRefusal(t, n); r.Status != 401 || !strings.Contains(r.Reason, "Cookie missing") {
			t.Errorf("host-only cookies: gateway refusal = %+v, want 401 (no Cookie header reached the ws host)", r)
		}
		// The UI host's session is valid, so the page does not claim there is none: it
		// says the gateway refused anyway, and why, from the gateway's log.
		if said := alice.said(h, "refused 1006"); !strings.Contains(said, "look valid to this page's server, yet the gateway refused") ||
			!strings.Contains(said, "the gateway logged: 401 authorizer_unauthorized — identity source route.request.header.Cookie missing") {
			t.Errorf("host-only cookies: the page said %q", said)
		}
		if user := eval[string](alice, `fetch("/api/session").then(r => r.json()).then(s => s.user)`); user != "alice" {
			t.Errorf("the UI host should still see the session, got user %q", user)
		}

		// Back to Domain cookies: the socket opens.
		eval[bool](alice, `chat.disconnect(), true`)
		alice.deleteCookies(d, "JWT")
		alice.setCookie(d, "JWT", jwt, d.Domain, true, network.CookieSameSiteLax)
		h = alice.historyLen()
		alice.do(chromedp.Click(chromedp.CSS("#connect-btn")))
		alice.waitHistory(h, "open")
	})

	t.Run("8 a sibling host tosses cookies: the page still connects as its own user", func(t *testing.T) {
		alice, mallory := newTab(t, b, true), newTab(t, b, true)
		alice.login(d, "alice")
		// The attacker's own valid session (bob's login, in the attacker's profile).
		mallory.login(d, "bob")
		attackerJWT := mallory.cookiesFor(d.UIURL)["JWT"].Value
		bobConns := len(d.Chat.ConnectionsOf("bob"))

		// An XSS on a sibling host plants, in alice's browser, a guessed CSRF-TOKEN for
		// the parent domain and the attacker's JWT beside hers (another Domain, so the
		// ws host gets both; another Path, so the UI backend's /api gets it first).
		toss := tossSite(t, []string{
			"CSRF-TOKEN=guess; Domain=" + d.Domain + "; Path=/; Secure; SameSite=Lax",
			"JWT=" + attackerJWT + "; Domain=" + parentOf(d.Domain) + "; Path=/; Secure; SameSite=Lax",
			"JWT=" + attackerJWT + "; Domain=" + d.Domain + "; Path=/api; Secure; SameSite=Lax",
		})
		sibling := newTab(t, alice.ctx, false)
		sibling.do(chromedp.Navigate(toss("other."+d.Domain)), chromedp.WaitVisible(chromedp.CSS(`body[data-tossed="1"]`)))
		ws := alice.rawCookies(d.WSURL)
		if n := countNamed(ws, "JWT"); n != 2 || csrfValue(ws) != "guess" {
			t.Fatalf("after tossing, the ws host gets %d JWT cookies and CSRF-TOKEN %q, want 2 and the guess; cookies: %v", n, csrfValue(ws), ws)
		}

		hits := d.cacheHits(t)
		// Retries from alice's page, with both CSRF transports, each twice: all open as
		// alice, the second of each from the authorizer's cache.
		for _, transport := range []string{"query", "subprotocol", "query", "subprotocol"} {
			before := len(d.Chat.ConnectionsOf("alice"))
			eval[bool](alice, `chat.disconnect(), true`)
			h := alice.historyLen()
			eval[bool](alice, fmt.Sprintf(`chat.connect(undefined, %q), true`, transport))
			alice.waitHistory(h, "open")
			testutil.Eventually(t, 5*time.Second, func() error {
				if n := len(d.Chat.ConnectionsOf("alice")); n < before {
					return fmt.Errorf("alice has %d connections, want at least %d", n, before)
				}
				return nil
			})
		}
		if got := d.cacheHits(t) - hits; got < 2 {
			t.Errorf("wsgate_authorizer_cache_total{result=\"hit\"} rose by %v, want at least 2 (one per transport)", got)
		}

		// A new tab of alice's (no sessionStorage yet) asks /api/session, which gets the
		// attacker's JWT first: it still answers alice, and the tab connects as alice.
		fresh := newTab(t, alice.ctx, false)
		fresh.do(chromedp.Navigate(d.UIURL), chromedp.WaitVisible(chromedp.CSS(`#state[data-state="open"]`)))
		if user := eval[string](fresh, `chat.user`); user != "alice" {
			t.Errorf("a new tab after tossing is logged in as %q, want alice", user)
		}

		// A cross-site page is still refused (SameSite=Lax: no cookie sent).
		evil := newTab(t, alice.ctx, false)
		n := len(d.refusals())
		evil.do(chromedp.Navigate(evilSite(t, d.WSURL)("evil.test")), chromedp.WaitVisible(chromedp.CSS(`#result[data-state="refused"]`)))
		if r := d.waitRefusal(t, n); r.Status != 401 {
			t.Errorf("evil.test after tossing: gateway refusal = %+v, want 401", r)
		}

		// After alice logs out only the attacker's JWT is left: her page is refused
		// (its token is not bound to that session) and never connects as the attacker.
		h := alice.historyLen()
		alice.do(chromedp.Click(chromedp.CSS("#logout-btn")))
		alice.waitHistory(h, "closed 1000")
		n, h = len(d.refusals()), alice.historyLen()
		eval[bool](alice, `chat.connect(), true`)
		alice.waitHistory(h, "unauthenticated 1006")
		if r := d.waitRefusal(t, n); r.Status != 403 || !strings.Contains(r.Reason, "CSRF") {
			t.Errorf("alice's page with only the attacker's JWT: refusal %+v, want 403 on the CSRF token", r)
		}
		if got := len(d.Chat.ConnectionsOf("bob")); got != bobConns {
			t.Errorf("bob (the attacker) has %d connections, want %d: alice's page connected as the attacker", got, bobConns)
		}
		alice.screenshot("state8-sibling-tossed-cookies.png")
	})

	t.Run("9 presence, timestamps, own disconnect, send disabled while closed", func(t *testing.T) {
		alice, bob := newTab(t, b, true), newTab(t, b, true)
		alice.login(d, "alice")
		bob.login(d, "bob")
		for _, tb := range []*tab{alice, bob} {
			tb.do(
				chromedp.WaitVisible(chromedp.CSS(`#presence li[data-user="alice"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#presence li[data-user="bob"]`)),
			)
		}
		sent := time.Now()
		alice.do(
			chromedp.SetValue(chromedp.CSS("#text"), "stamped"),
			chromedp.Click(chromedp.CSS("#send-btn")),
			chromedp.WaitVisible(`//ul[@id="messages"]/li[contains(., "alice: stamped")]/time`),
		)
		stamp := eval[string](bob, `new Promise(r => { const f = () => { const t = [...document.querySelectorAll("#messages li")].find(li => li.textContent.includes("alice: stamped"))?.querySelector("time"); t ? r(t.dateTime) : setTimeout(f, 50); }; f(); })`)
		at, err := time.Parse(time.RFC3339, stamp)
		if err != nil || at.Before(sent.Add(-2*time.Second)) || at.After(time.Now().Add(2*time.Second)) {
			t.Errorf("message timestamp %q (%v), want RFC 3339 close to %v", stamp, err, sent)
		}
		if shown := eval[string](bob, `document.querySelector("#messages li time").textContent`); !regexp.MustCompile(`^\d{2}:\d{2}:\d{2}`).MatchString(shown) {
			t.Errorf("shown time %q, want HH:MM:SS", shown)
		}
		alice.screenshot("state9-connected-presence.png")

		h := alice.historyLen()
		alice.do(chromedp.Click(chromedp.CSS("#disconnect-btn")))
		alice.waitHistory(h, "disconnected 1000")
		alice.do(chromedp.WaitVisible(`//span[@id="state-detail"][.="you disconnected"]`))
		if got := eval[string](alice, `document.getElementById("state").textContent`); got != "disconnected" {
			t.Errorf("state label %q after own disconnect, want disconnected", got)
		}
		if got := eval[string](alice, `getComputedStyle(document.getElementById("state")).backgroundColor`); got == "rgb(179, 38, 30)" {
			t.Error("own disconnect is shown in the error colour")
		}
		disabled := eval[map[string]bool](alice, `Object.fromEntries(["send-btn", "text", "to", "connect-btn", "disconnect-btn"].map(id => [id, document.getElementById(id).disabled]))`)
		if want := map[string]bool{"send-btn": true, "text": true, "to": true, "connect-btn": false, "disconnect-btn": true}; !maps.Equal(disabled, want) {
			t.Errorf("disabled controls after own disconnect = %v, want %v", disabled, want)
		}
		if hint := eval[string](alice, `document.getElementById("send-hint").textContent`); !strings.Contains(hint, "Not connected") {
			t.Errorf("send hint %q", hint)
		}
		bob.do(chromedp.WaitNotPresent(chromedp.CSS(`#presence li[data-user="alice"]`)))
		alice.screenshot("state9-own-disconnect.png")

		h = alice.historyLen()
		alice.do(chromedp.Click(chromedp.CSS("#connect-btn")))
		alice.waitHistory(h, "open")
		bob.do(chromedp.WaitVisible(chromedp.CSS(`#presence li[data-user="alice"]`)))
		if eval[bool](alice, `document.getElementById("send-btn").disabled`) {
			t.Error("Send is disabled while the socket is open")
		}
	})

	t.Run("10 try an attack: each refusal as the gateway logged it", func(t *testing.T) {
		alice := newTab(t, b, true)
		alice.login(d, "alice")
		before := d.Chat.Stats()
		for _, a := range []struct{ button, result, reason string }{
			{"#attack-sibling", "#result-sibling", "Origin not allowed"},
			{"#attack-cross-site", "#result-cross-site", "Cookie missing"},
			{"#attack-forged", "#result-forged", "signature invalid"},
			{"#attack-nocsrf", "#result-nocsrf", "CSRF"},
		} {
			n := len(d.refusals())
			alice.do(chromedp.Click(chromedp.CSS(a.button)), chromedp.WaitVisible(chromedp.CSS(a.result+`[data-status]`)))
			logged := d.waitRefusal(t, n)
			if !strings.Contains(logged.Reason, a.reason) {
				t.Errorf("%s: the gateway logged %+v, want a reason with %q", a.button, logged, a.reason)
			}
			shown := eval[map[string]string](alice, fmt.Sprintf(`({...document.querySelector(%q).dataset, text: document.querySelector(%q).textContent})`, a.result, a.result))
			if shown["status"] != fmt.Sprint(logged.Status) || shown["reason"] != logged.Reason ||
				!strings.Contains(shown["text"], fmt.Sprintf("%d %s — %s", logged.Status, logged.Outcome, logged.Reason)) {
				t.Errorf("%s: the page shows %v, the gateway logged %+v", a.button, shown, logged)
			}
		}
		if got := eval[string](alice, `document.getElementById("result-forged").textContent`); !strings.Contains(got, "HTTP 401") {
			t.Errorf("forged cookie: the backend's handshake status is not shown: %q", got)
		}
		if after := d.Chat.Stats(); after.Connects != before.Connects {
			t.Errorf("an attack reached $connect: %+v → %+v", before, after)
		}
		if st := eval[string](alice, `chat.state`); st != "open" {
			t.Errorf("the page's own socket is %q after the attacks, want open", st)
		}
		alice.screenshot("state10-attack-panel.png")
	})

	// Last: it stops the gateway.
	t.Run("11 gateway stopped: unreachable, countdown, reconnected when it is back", func(t *testing.T) {
		alice := newTab(t, b, true)
		alice.login(d, "alice")
		// A longer first delay, so that the countdown is seen ticking.
		eval[bool](alice, `chat.backoff = {baseMs: 4000, capMs: 4000}, true`)
		h := alice.historyLen()
		stopped := time.Now()
		if err := d.StopGateway(); err != nil {
			t.Fatalf("stopping the gateway: %v", err)
		}
		alice.waitHistory(h, "retrying 1001")
		alice.waitHistory(h, "unreachable 1006")
		t.Logf("gateway stopped → page shows unreachable: %v, the first retry's delay (2–4 s here) included (noisy: shared machine)", time.Since(stopped).Round(time.Millisecond))
		alice.do(chromedp.WaitVisible(chromedp.CSS(`#retry[data-seconds]`)))
		line := eval[string](alice, `document.querySelector(".state-line").innerText.replace(/\s+/g, " ")`)
		if !regexp.MustCompile(`gateway unreachable code 1006 gateway unreachable, retrying in [1-4] s`).MatchString(line) {
			t.Errorf("state line %q, want gateway unreachable, retrying in N s", line)
		}
		first := eval[int](alice, `+document.getElementById("retry").dataset.seconds`)
		alice.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](fmt.Sprintf(`+document.getElementById("retry").dataset.seconds < %d`, first),
				chromedp.WithPollingTimeout(5*time.Second))(ctx, tg)
			return err
		}))
		if !eval[bool](alice, `document.getElementById("send-btn").disabled && !document.getElementById("disconnect-btn").disabled && !document.getElementById("retry-btn").hidden`) {
			t.Error("while unreachable: Send must be disabled, Disconnect and Retry now offered")
		}
		if got := eval[string](alice, `document.getElementById("me-name").textContent`); got != "alice" {
			t.Errorf("while the gateway is down the page shows user %q, want alice (the session is valid)", got)
		}
		alice.screenshot("state11-gateway-unreachable.png")

		if err := d.StartGateway(); err != nil {
			t.Fatalf("starting the gateway again: %v", err)
		}
		restarted := time.Now()
		h = alice.historyLen()
		alice.waitHistory(h, "open")
		t.Logf("gateway started → page reconnected: %v, at most the pending retry's delay (2–4 s here; noisy: shared machine)", time.Since(restarted).Round(time.Millisecond))
		alice.do(chromedp.WaitVisible(chromedp.CSS(`#presence li[data-user="alice"]`)))
		if eval[bool](alice, `document.getElementById("send-btn").disabled || !document.getElementById("retry").hidden`) {
			t.Error("after reconnecting: Send disabled or a retry still pending")
		}
		alice.screenshot("state11-reconnected.png")
	})
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// TestBrowserSessionExpiry runs `wsgate dev --token-ttl 3s`: the gateway closes the
// socket with 1008 when the JWT expires, and the page says the session expired, shows
// the login form and does not retry.
func TestBrowserSessionExpiry(t *testing.T) {
	d := startDev(t, 3*time.Second)
	b := browser(t, d.UIHost, d.WSHost)
	alice := newTab(t, b, true)
	alice.login(d, "alice")
	alice.waitHistory(0, "expired 1008")
	alice.do(
		chromedp.WaitVisible(`//span[@id="state-detail"][contains(., 'session expired (1008 "Credential expired"): log in again')]`),
		chromedp.WaitVisible(chromedp.CSS("#login")),
	)
	if got := eval[string](alice, `document.getElementById("state").textContent`); got != "session expired" {
		t.Errorf("state label %q", got)
	}
	if eval[bool](alice, `chat.wanted || chat.retryAt !== 0 || !document.getElementById("retry").hidden || !document.getElementById("connect-btn").disabled`) {
		t.Error("after expiry the page retries or offers Connect without a session")
	}
	if got := eval[string](alice, `document.querySelector("#presence").textContent`); got != "— (not connected)" {
		t.Errorf("presence after expiry %q", got)
	}
	if strings.Contains(eval[string](alice, `chat.history.join(",")`), "401") {
		t.Error("the page explained the expiry as a 401")
	}
	alice.screenshot("state12-session-expired.png")
}

// tossSite serves https://{host}:PORT/ for any host: a page whose script sets cookies
// with document.cookie, as an XSS on a sibling host of the cookies' Domain would.
func tossSite(t *testing.T, cookies []string) func(host string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		js, _ := json.Marshal(cookies)
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>sibling</title></head><body>
<p>a sibling host planting cookies for the parent domain</p><script>
for (const c of %s) document.cookie = c;
document.body.dataset.tossed = "1";
</script></body></html>`, js)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := strings.TrimPrefix(srv.Listener.Addr().String(), "127.0.0.1:")
	return func(host string) string { return "https://" + host + ":" + port + "/" }
}

// parentOf is domain without its first label ("dev.example.test" → "example.test").
func parentOf(domain string) string {
	_, rest, _ := strings.Cut(domain, ".")
	return rest
}

// rawCookies returns every cookie the profile would send to url, duplicates included.
func (tb *tab) rawCookies(url string) []*network.Cookie {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{strings.Replace(url, "wss://", "https://", 1)}})
	if err != nil {
		tb.fatalf("get cookies: %v", err)
	}
	return res.Cookies
}

func countNamed(cs []*network.Cookie, name string) int {
	n := 0
	for _, c := range cs {
		if c.Name == name {
			n++
		}
	}
	return n
}

func csrfValue(cs []*network.Cookie) string {
	for _, c := range cs {
		if c.Name == "CSRF-TOKEN" {
			return c.Value
		}
	}
	return ""
}

// cacheHits reads wsgate_authorizer_cache_total{result="hit"} from the management
// listener's /metrics.
func (d *devRun) cacheHits(t *testing.T) float64 {
	t.Helper()
	resp, err := http.Get("http://" + d.ManagementAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^wsgate_authorizer_cache_total\{result="hit"\} (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	var v float64
	if _, err := fmt.Sscan(string(m[1]), &v); err != nil {
		t.Fatalf("metric value %q: %v", m[1], err)
	}
	return v
}

// TestDevCommand runs `wsgate dev` through run() on port 0: it prints how to open the
// page (host mapping for Chromium and /etc/hosts), and serves it over TLS with a
// certificate from the local CA it keeps in --dir.
func TestDevCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	out, logs := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--ui-port", "0", "--ws-port", "0", "--dir", dir}, func(string) string { return "" }, nil, out, logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev returned %v", err)
		}
	})
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(out.String(), "Ctrl-C") {
		select {
		case err := <-done:
			t.Fatalf("dev: %v\n%s", err, logs.String())
		case <-tick.C:
		}
	}
	text := out.String()
	for _, want := range []string{
		`--host-resolver-rules="MAP ui.dev.example.test 127.0.0.1, MAP ws.dev.example.test 127.0.0.1, MAP evil.dev.example.test 127.0.0.1"`,
		"127.0.0.1 ui.dev.example.test ws.dev.example.test evil.dev.example.test",
		filepath.Join(dir, "ca.pem"),
		"wss://ws.dev.example.test:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	m := regexp.MustCompile(`page\s+https://ui\.dev\.example\.test:(\d+)/`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no page URL in:\n%s", text)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	// Verify the certificate for the real host name while dialing loopback.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+m[1])
		},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://ui.dev.example.test:" + m[1] + "/")
	if err != nil {
		t.Fatalf("GET the page with the dev CA trusted: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "wsgate chat") {
		t.Errorf("page: %d %.200s", resp.StatusCode, body)
	}
}
