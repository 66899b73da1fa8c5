// wsgate chat page: log in (cookies), open the WebSocket with the CSRF token in the
// query or as a csrf.<token> subprotocol, say truthfully what state the socket is in and
// why, reconnect with backoff when that can help, send and receive, show who is online.
//
// The CSRF token comes from this origin only: the login response and GET /api/session
// (never a cookie, which every sibling host of the cookie's Domain could read or
// replace). It is kept in sessionStorage, which no other origin can read.
//
// A browser hides why a handshake failed: the page only sees close code 1006 before
// open. So after one the page asks its backend (POST /api/ws-check) whether the session
// is valid, the presented token matches it, the Origin is the allowed one and the
// gateway's /readyz answers, and says what that means; under `wsgate dev` it also shows
// the refusal as the gateway logged it (GET /dev/refusals).
"use strict";

const $ = (id) => document.getElementById(id);
const app = {
  cfg: null,        // {webSocketURL, users, origin, dev?}
  user: null,       // logged-in user (from /api/session: the JWT is HttpOnly)
  expiresAt: null,
  ws: null,
  state: "idle",
  wanted: false,    // the user wants a socket: reconnect when that can help
  attempt: 0,       // retries since the last open
  retryAt: 0,       // when the pending retry fires (ms since epoch), 0: none
  timer: null,
  tick: null,
  transport: "query", // how the CSRF token is presented: "query" or "subprotocol"
  byUser: false,    // the user pressed Disconnect
  loggingOut: false,
  busy: false,      // a login or logout request is in flight
  attacking: false,
  online: [],
  history: [],      // states seen ("open", "refused 1006", ...), for tests and debugging
  details: [],      // what the page said with each of them
  // Backoff: base × 2^(retry−1), capped, then jittered to 50–100 % of that.
  backoff: { baseMs: 1000, capMs: 30000 },
};
window.chat = app;

const TOKEN_KEY = "wsgate.csrf";
const LABELS = {
  idle: "not connected", connecting: "connecting", open: "connected",
  unreachable: "gateway unreachable", retrying: "reconnecting", refused: "refused",
  unauthenticated: "not logged in", expired: "session expired",
  disconnected: "disconnected", closed: "closed by the server",
};

function storedToken() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
function storeToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function setState(state, detail, code) {
  app.state = state;
  const el = $("state");
  el.dataset.state = state;
  el.textContent = LABELS[state] || state;
  const cc = $("close-code");
  if (code !== undefined) {
    cc.hidden = false;
    cc.textContent = "code " + code;
    cc.dataset.code = String(code);
  } else {
    cc.hidden = true;
    delete cc.dataset.code;
  }
  $("state-detail").textContent = detail || "";
  app.history.push(code === undefined ? state : state + " " + code);
  app.details.push(detail || "");
  updateControls();
}

// updateControls enables what can act now and nothing else.
function updateControls() {
  const logged = !!app.user;
  const active = app.state === "open" || app.state === "connecting";
  $("login").hidden = logged;
  $("me").hidden = !logged;
  $("me-name").textContent = app.user || "";
  $("me-exp").textContent = logged && app.expiresAt ? "(session until " + clock(app.expiresAt) + ")" : "";
  $("login-btn").disabled = app.busy;
  $("logout-btn").disabled = app.busy;
  $("connect-btn").disabled = !logged || active || app.busy;
  $("disconnect-btn").disabled = !(active || app.retryAt);
  $("retry-btn").hidden = !app.retryAt;
  const open = app.state === "open";
  for (const id of ["send-btn", "text", "to"]) $(id).disabled = !open;
  $("send-hint").textContent = open ? "" : "Not connected: sending is off until the socket is open.";
  for (const b of document.querySelectorAll("#attack-list button")) b.disabled = !logged || app.attacking;
}

function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function addMessage(m) {
  const li = document.createElement("li");
  if (m.at) {
    const t = document.createElement("time");
    t.dateTime = m.at;
    t.textContent = clock(m.at);
    li.append(t, " ");
  }
  if (m.type === "error") {
    li.className = "error";
    li.append(m.text);
  } else {
    const from = document.createElement("span");
    from.className = "from";
    from.textContent = m.from + (m.to ? " → " + m.to : "") + ": ";
    li.append(from, document.createTextNode(m.text));
  }
  li.dataset.from = m.from || "";
  $("messages").append(li);
}

// showPresence shows who is online; null: unknown (not connected).
function showPresence(online) {
  app.online = online || [];
  const ul = $("presence");
  ul.replaceChildren();
  for (const u of app.online) {
    const li = document.createElement("li");
    li.dataset.user = u;
    li.textContent = u + (u === app.user ? " (you)" : "");
    ul.append(li);
  }
  if (!app.online.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = online ? "nobody" : "— (not connected)";
    ul.append(li);
  }
}

async function refreshSession() {
  const r = await fetch("/api/session", { credentials: "same-origin" });
  const s = await r.json();
  app.user = s.user;
  app.expiresAt = s.expiresAt || null;
  storeToken(s.csrfToken || "");
  updateControls();
  return app.user;
}

// check asks the backend what a refused handshake means (see WSCheck in routes.go).
async function check(token) {
  const r = await fetch("/api/ws-check", {
    method: "POST", credentials: "same-origin", headers: token ? { "X-CSRF-Token": token } : {},
  });
  if (!r.ok) throw new Error("ws-check " + r.status);
  return r.json();
}

// Dev only: the gateway's refusal log. mark is the number the next refusal gets.
async function refusalMark() {
  if (!app.cfg.dev) return null;
  try { return (await (await fetch("/dev/refusals")).json()).next; } catch { return null; }
}

async function loggedRefusal(mark, withinMs) {
  if (mark === null || !app.cfg.dev) return null;
  const deadline = Date.now() + (withinMs || 0);
  for (;;) {
    try {
      const r = await (await fetch("/dev/refusals?after=" + mark)).json();
      if (r.refusals.length) return r.refusals[0];
    } catch { /* keep polling until the deadline */ }
    if (Date.now() >= deadline) return null;
    await new Promise((res) => setTimeout(res, 150));
  }
}

function describeRefusal(rec) {
  return rec.status + " " + rec.outcome + (rec.reason ? " — " + rec.reason : "");
}

let generation = 0;

// connect opens the socket with the stored token. csrf overrides it (tests use it to
// present another session's token); transport is "query" (default) or "subprotocol".
async function connect(csrf, transport) {
  cancelRetry();
  const gen = ++generation;
  if (app.ws) { app.ws.onclose = null; app.ws.close(1000); app.ws = null; }
  app.wanted = true;
  app.byUser = false;
  if (transport) app.transport = transport;
  const override = csrf !== undefined;
  const token = override ? csrf : storedToken();
  setState("connecting", (app.attempt ? "retry " + app.attempt + ": " : "") + "opening " + app.cfg.webSocketURL);
  const mark = await refusalMark();
  if (gen !== generation) return;
  // A subprotocol entry is a token (no "=" or "/"): base64url CSRF tokens are.
  const ws = app.transport === "subprotocol" && token
    ? new WebSocket(app.cfg.webSocketURL, ["chat", "csrf." + token])
    : new WebSocket(app.cfg.webSocketURL + "?csrf=" + encodeURIComponent(token));
  let opened = false;
  app.ws = ws;
  ws.onopen = () => {
    opened = true;
    app.attempt = 0;
    setState("open", "connected as " + (app.user || "?"));
    ws.send(JSON.stringify({ action: "who" }));
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch { m = { type: "error", text: String(ev.data) }; }
    if (m.type === "presence") showPresence(m.online);
    else addMessage(m);
  };
  ws.onclose = (ev) => {
    if (app.ws !== ws) return;
    app.ws = null;
    showPresence(null);
    if (opened) closedAfterOpen(ev);
    else refused(ev, token, override, mark, gen);
  };
}

function quoteReason(ev) {
  return ev.code + (ev.reason ? " \"" + ev.reason + "\"" : "");
}

async function closedAfterOpen(ev) {
  if (app.byUser) {
    setState("disconnected", "you disconnected", ev.code);
    return;
  }
  if (ev.code === 1008) {
    // The gateway's credential expiry (CloseOnCredentialExpiry): retrying cannot help.
    app.wanted = false;
    await refreshSession().catch(() => null);
    setState("expired", "session expired (" + quoteReason(ev) + "): log in again", ev.code);
    return;
  }
  if (ev.code === 1000) {
    app.wanted = false;
    if (app.loggingOut) {
      setState("closed", "you logged out: the server closed your socket (" + quoteReason(ev) + ")", ev.code);
      return;
    }
    const user = await refreshSession().catch(() => app.user);
    setState("closed", "the server closed the connection (" + quoteReason(ev) + ")" +
      (user ? "; press Connect to open another" : "; your session has ended: log in again"), ev.code);
    return;
  }
  const why = ev.code === 1001 ? "gateway going away (" + quoteReason(ev) + ")" : "connection lost (" + quoteReason(ev) + ")";
  setState("retrying", why, ev.code);
  scheduleRetry("retrying", why, ev.code);
}

// refused explains a handshake that failed before open (the browser reports 1006).
async function refused(ev, token, override, mark, gen) {
  const code = ev.code;
  setState("connecting", "handshake failed (code " + code + "): asking the backend why", code);
  let c;
  try {
    c = await check(token);
  } catch {
    if (gen !== generation) return;
    const why = "the handshake failed and this page's server does not answer either";
    setState("unreachable", why, code);
    scheduleRetry("unreachable", why, code);
    return;
  }
  if (gen !== generation) return;
  if (c.gateway === "unreachable" || c.gateway === "not ready") {
    const why = c.gateway === "unreachable" ? "gateway unreachable" : "gateway not ready (starting or shutting down)";
    setState("unreachable", why, code);
    scheduleRetry("unreachable", why, code);
    return;
  }
  const rec = await loggedRefusal(mark, 1000);
  if (gen !== generation) return;
  const logged = rec ? " · the gateway logged: " + describeRefusal(rec) : "";
  if (c.session !== "valid") {
    const had = !!app.user;
    app.wanted = false;
    await refreshSession().catch(() => null);
    if (c.session === "expired" || had) {
      setState("expired", "session expired or ended: log in again" + logged, code);
    } else {
      setState("unauthenticated", "no valid session: log in" + logged, code);
    }
    return;
  }
  let why;
  if (!c.originAllowed) why = "this page's Origin " + c.origin + " is not the one the gateway allows";
  else if (c.csrf === "mismatch") why = "the CSRF token presented does not match this session";
  else if (c.csrf === "missing") why = "no CSRF token was presented";
  else if (c.gateway === "unknown") why = "the session, token and Origin are valid, and the gateway's state is unknown: it may be unreachable";
  else why = "the session, token and Origin look valid to this page's server, yet the gateway refused (the browser hides why)";
  setState("refused", "handshake refused: " + why + logged, code);
  // Retry when that can help: another token was forced on this attempt (the next uses
  // the session's own), or the gateway said "try later".
  const transient = rec && (rec.status === 429 || rec.status === 503);
  if (override || transient || (!rec && c.gateway === "unknown")) scheduleRetry("refused", "handshake refused: " + why + logged, code);
  else app.wanted = false;
}

function retryDelay(n) {
  const d = Math.min(app.backoff.capMs, app.backoff.baseMs * 2 ** (n - 1));
  return d / 2 + Math.random() * d / 2;
}

function scheduleRetry(state, why, code) {
  if (!app.wanted) return;
  app.attempt++;
  const delay = retryDelay(app.attempt);
  app.retryAt = Date.now() + delay;
  $("retry").hidden = false;
  const show = () => {
    const s = Math.max(0, Math.ceil((app.retryAt - Date.now()) / 1000));
    $("retry-s").textContent = String(s);
    $("retry").dataset.seconds = String(s);
  };
  show();
  app.tick = setInterval(show, 200);
  app.timer = setTimeout(() => connect(), delay);
  updateControls();
}

function cancelRetry() {
  clearTimeout(app.timer);
  clearInterval(app.tick);
  app.retryAt = 0;
  $("retry").hidden = true;
  delete $("retry").dataset.seconds;
}

function disconnect() {
  app.wanted = false;
  generation++;
  const pending = app.retryAt;
  cancelRetry();
  if (app.ws) {
    app.byUser = true;
    app.ws.close(1000, "bye");
  } else {
    setState("disconnected", pending ? "you stopped the retries" : "you disconnected");
  }
}

app.connect = connect;
app.disconnect = disconnect;

// Attacks (wsgate dev only). Each returns what the browser (or the backend) saw; the
// gateway's own log then says why it refused.
const attacks = {
  async hostile(name) {
    const page = app.cfg.dev.hostilePages.find((p) => p.name === name);
    const u = new URL(page.url);
    u.searchParams.set("name", name);
    u.searchParams.set("ws", app.cfg.webSocketURL);
    u.searchParams.set("parent", location.origin);
    const result = new Promise((resolve) => {
      const t = setTimeout(() => { window.removeEventListener("message", on); resolve("no answer from the hostile page"); }, 10000);
      function on(ev) {
        if (ev.origin !== page.origin || !ev.data || ev.data.attack !== name) return;
        clearTimeout(t);
        window.removeEventListener("message", on);
        resolve(ev.data.opened ? "OPENED: the socket was hijacked" : "its page saw close code " + ev.data.code + " before open");
      }
      window.addEventListener("message", on);
    });
    const f = document.createElement("iframe");
    f.title = "hostile page on " + page.origin;
    f.src = u.toString();
    $("attack-frame").replaceChildren(f);
    return result;
  },
  async forged() {
    const r = await fetch("/dev/attack/forged-cookie", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": storedToken() },
    });
    const a = await r.json();
    if (!r.ok) return "not attempted: " + (a.error || r.status);
    return a.opened ? "OPENED: the forged cookie was accepted" : "the backend's handshake got HTTP " + a.status;
  },
  async nocsrf() {
    return new Promise((resolve) => {
      const ws = new WebSocket(app.cfg.webSocketURL);
      ws.onopen = () => { ws.close(1000); resolve("OPENED without a CSRF token"); };
      ws.onclose = (ev) => resolve("the browser saw close code " + ev.code + " before open");
    });
  },
};

async function runAttack(name, fn) {
  const out = $("result-" + name);
  app.attacking = true;
  updateControls();
  out.className = "pending";
  out.textContent = "trying…";
  delete out.dataset.status;
  delete out.dataset.reason;
  try {
    const mark = await refusalMark();
    const saw = await fn();
    const rec = await loggedRefusal(mark, 5000);
    if (rec) {
      out.className = "refused";
      out.dataset.status = String(rec.status);
      out.dataset.reason = rec.reason;
      out.textContent = "refused — the gateway logged " + describeRefusal(rec) + " (" + saw + ")";
    } else {
      out.className = "bad";
      out.textContent = "no refusal logged (" + saw + ")";
    }
  } catch (e) {
    out.className = "bad";
    out.textContent = "error: " + e.message;
  } finally {
    app.attacking = false;
    updateControls();
  }
}

function setupAttacks() {
  const dev = app.cfg.dev;
  if (!dev) return;
  $("attacks").hidden = false;
  for (const p of dev.hostilePages) {
    const el = $(p.name + "-origin");
    if (el) el.textContent = p.origin;
  }
  $("attack-sibling").addEventListener("click", () => runAttack("sibling", () => attacks.hostile("sibling")));
  $("attack-cross-site").addEventListener("click", () => runAttack("cross-site", () => attacks.hostile("cross-site")));
  $("attack-forged").addEventListener("click", () => runAttack("forged", attacks.forged));
  $("attack-nocsrf").addEventListener("click", () => runAttack("nocsrf", attacks.nocsrf));
}

async function main() {
  app.cfg = await (await fetch("/api/config")).json();
  const u = new URL(app.cfg.webSocketURL);
  const domain = u.hostname.replace(/^ws\./, "");
  $("wsurl").textContent = app.cfg.webSocketURL;
  $("domain").textContent = domain;
  for (const el of document.querySelectorAll(".domain")) el.textContent = domain;
  $("allowed-origin").textContent = app.cfg.origin;
  for (const name of app.cfg.users) {
    $("user").append(new Option(name, name));
    $("to").append(new Option(name, name));
  }
  setupAttacks();
  $("login").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("auth-msg").textContent = "";
    app.busy = true;
    updateControls();
    try {
      const r = await fetch("/login", {
        method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user: $("user").value, password: $("password").value }),
      });
      if (!r.ok) { $("auth-msg").textContent = "login failed: " + ((await r.json()).error || r.status); return; }
      storeToken((await r.json()).csrfToken);
      app.loggingOut = false;
      await refreshSession();
    } finally {
      app.busy = false;
      updateControls();
    }
    app.attempt = 0;
    connect();
  });
  $("logout-btn").addEventListener("click", async () => {
    app.busy = true;
    app.loggingOut = true;
    app.wanted = false; // the server closes the socket (1000)
    cancelRetry();
    updateControls();
    try {
      const r = await fetch("/logout", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": storedToken() },
      });
      if (!r.ok) $("auth-msg").textContent = "logout: " + ((await r.json()).error || r.status);
      await refreshSession();
    } finally {
      app.busy = false;
      if (!app.ws && app.state !== "closed") setState("idle", "logged out");
      updateControls();
    }
  });
  $("connect-btn").addEventListener("click", () => { app.attempt = 0; connect(); });
  $("retry-btn").addEventListener("click", () => connect());
  $("disconnect-btn").addEventListener("click", disconnect);
  $("send").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value;
    if (!text || !app.ws || app.ws.readyState !== WebSocket.OPEN) return;
    app.ws.send(JSON.stringify({ action: "send", to: $("to").value, text }));
    $("text").value = "";
  });
  updateControls();
  if (await refreshSession()) connect();
  else setState("idle", "log in to connect");
  document.body.dataset.ready = "1";
}

main();
