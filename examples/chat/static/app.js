// wsgate chat page: log in (cookies), open the WebSocket with the CSRF token in the
// query or as a csrf.<token> subprotocol, show the connection state, reconnect with
// backoff, send and receive.
//
// The CSRF token comes from this origin only: the login response and GET /api/session
// (never a cookie, which every sibling host of the cookie's Domain could read or
// replace). It is kept in sessionStorage, which no other origin can read.
"use strict";

const $ = (id) => document.getElementById(id);
const app = {
  cfg: null,       // {webSocketURL, users}
  user: null,      // logged-in user (from /api/session: the JWT is HttpOnly)
  ws: null,
  wanted: false,   // the user wants a socket: reconnect when it drops
  attempt: 0,      // reconnect attempts since the last open
  timer: null,
  transport: "query", // how the CSRF token is presented: "query" or "subprotocol"
  history: [],     // states seen, for tests and debugging
};
window.chat = app;

const TOKEN_KEY = "wsgate.csrf";

function storeToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function setState(state, detail, code) {
  const el = $("state");
  el.dataset.state = state;
  el.textContent = state;
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
}

function addMessage(m) {
  const li = document.createElement("li");
  if (m.type === "error") {
    li.className = "error";
    li.textContent = m.text;
  } else {
    const from = document.createElement("span");
    from.className = "from";
    from.textContent = m.from + (m.to ? " → " + m.to : "") + ": ";
    li.append(from, document.createTextNode(m.text));
  }
  li.dataset.from = m.from || "";
  $("messages").append(li);
}

async function refreshSession() {
  const r = await fetch("/api/session", { credentials: "same-origin" });
  const s = await r.json();
  app.user = s.user;
  storeToken(s.csrfToken || "");
  $("login").hidden = !!app.user;
  $("me").hidden = !app.user;
  $("me-name").textContent = app.user || "";
  return app.user;
}

// connect opens the socket with the stored token. csrf overrides it (tests use it to
// present another session's token); transport is "query" (default) or "subprotocol".
function connect(csrf, transport) {
  clearTimeout(app.timer);
  if (app.ws) { app.ws.onclose = null; app.ws.close(1000); }
  app.wanted = true;
  if (transport) app.transport = transport;
  const token = csrf !== undefined ? csrf : (sessionStorage.getItem(TOKEN_KEY) || "");
  setState(app.attempt ? "reconnecting" : "connecting", "opening " + app.cfg.webSocketURL);
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
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch { m = { type: "error", text: String(ev.data) }; }
    addMessage(m);
  };
  ws.onclose = async (ev) => {
    if (app.ws !== ws) return;
    app.ws = null;
    if (!opened) {
      // The browser hides a refused handshake's HTTP status (it reports 1006). Ask the
      // backend whether this page has a session to tell the two refusals apart.
      const user = await refreshSession().catch(() => null);
      const why = user
        ? "handshake refused: logged in, so 403 (Origin or CSRF token not accepted)"
        : "handshake refused: no valid session, so 401 Unauthorized";
      setState("refused", why, ev.code);
      if (!user) { app.wanted = false; return; }
    } else {
      const why = ev.code === 1000 ? "closed by the server (logged out or disconnected)"
        : ev.code === 1008 ? "closed: credential expired or policy violation"
        : "connection lost" + (ev.reason ? ": " + ev.reason : "");
      setState("closed", why, ev.code);
      if (ev.code === 1000) { app.wanted = false; await refreshSession().catch(() => null); }
    }
    if (app.wanted) scheduleReconnect();
  };
}

function scheduleReconnect() {
  app.attempt++;
  if (app.attempt > 6) { setState("closed", "gave up after 6 attempts; press Connect", undefined); app.wanted = false; return; }
  const delay = Math.min(30000, 500 * 2 ** (app.attempt - 1)) * (0.75 + Math.random() / 2);
  $("state-detail").textContent += ` · reconnecting in ${(delay / 1000).toFixed(1)}s (attempt ${app.attempt})`;
  app.timer = setTimeout(() => connect(), delay);
}

function disconnect() {
  app.wanted = false;
  clearTimeout(app.timer);
  if (app.ws) app.ws.close(1000, "bye");
}

app.connect = connect;
app.disconnect = disconnect;

async function main() {
  app.cfg = await (await fetch("/api/config")).json();
  const u = new URL(app.cfg.webSocketURL);
  $("wsurl").textContent = app.cfg.webSocketURL;
  $("domain").textContent = u.hostname.replace(/^ws\./, "");
  for (const name of app.cfg.users) {
    $("user").append(new Option(name, name));
    $("to").append(new Option(name, name));
  }
  $("login").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("auth-msg").textContent = "";
    const r = await fetch("/login", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: $("user").value, password: $("password").value }),
    });
    if (!r.ok) { $("auth-msg").textContent = "login failed: " + ((await r.json()).error || r.status); return; }
    storeToken((await r.json()).csrfToken);
    await refreshSession();
    app.attempt = 0;
    connect();
  });
  $("logout-btn").addEventListener("click", async () => {
    const r = await fetch("/logout", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": sessionStorage.getItem(TOKEN_KEY) || "" },
    });
    if (!r.ok) $("auth-msg").textContent = "logout: " + ((await r.json()).error || r.status);
    app.wanted = false; // the server closes the socket (1000)
    await refreshSession();
  });
  $("connect-btn").addEventListener("click", () => { app.attempt = 0; connect(); });
  $("disconnect-btn").addEventListener("click", disconnect);
  $("send").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value;
    if (!text || !app.ws || app.ws.readyState !== WebSocket.OPEN) return;
    app.ws.send(JSON.stringify({ action: "send", to: $("to").value, text }));
    $("text").value = "";
  });
  if (await refreshSession()) connect();
  document.body.dataset.ready = "1";
}

main();
