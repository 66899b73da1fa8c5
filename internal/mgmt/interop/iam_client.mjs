// Presigns a WebSocket handshake URL with the AWS SDK for JavaScript v3's SigV4 signer
// (@smithy/signature-v4, what @aws-sdk/signature-v4 re-exports) for the service
// execute-api, connects with ws, sends one message and prints one JSON line:
// {"status": <101 or the refusal's>, "body": <refusal body>, "echo": <first message back>}.
// Driven by ../../server/iam_node_test.go. Input from the environment:
// WS_URL, AWS_REGION, AK, SK, TOKEN (optional), EXPIRES (seconds), SIGN_AT (ms since the epoch, optional).
import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import WebSocket from "ws";

class Sha256 {
  constructor(secret) { this.h = secret ? createHmac("sha256", secret) : createHash("sha256"); }
  update(data) { this.h.update(data); }
  async digest() { return new Uint8Array(this.h.digest()); }
}

const env = process.env;
const u = new URL(env.WS_URL);
const signer = new SignatureV4({
  service: "execute-api",
  region: env.AWS_REGION,
  credentials: { accessKeyId: env.AK, secretAccessKey: env.SK, sessionToken: env.TOKEN || undefined },
  sha256: Sha256,
});
const signed = await signer.presign(
  {
    method: "GET",
    protocol: u.protocol,
    hostname: u.hostname,
    port: u.port ? Number(u.port) : undefined,
    path: u.pathname,
    query: Object.fromEntries(u.searchParams),
    headers: { host: u.host },
  },
  { expiresIn: Number(env.EXPIRES || 300), signingDate: env.SIGN_AT ? new Date(Number(env.SIGN_AT)) : undefined },
);
const query = Object.entries(signed.query)
  .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`))
  .join("&");
const url = `${u.protocol}//${u.host}${signed.path}?${query}`;

const out = (o) => { process.stdout.write(JSON.stringify(o) + "\n"); };
const ws = new WebSocket(url);
const timer = setTimeout(() => { out({ status: 0, error: "timeout" }); process.exit(2); }, 10000);
ws.on("unexpected-response", (_req, res) => {
  let body = "";
  res.on("data", (c) => { body += c; });
  res.on("end", () => { clearTimeout(timer); out({ status: res.statusCode, body }); process.exit(0); });
});
ws.on("open", () => { ws.send(JSON.stringify({ action: "echo", text: "from node" })); });
ws.on("message", (data) => {
  clearTimeout(timer);
  out({ status: 101, echo: data.toString() });
  ws.close(1000);
});
ws.on("close", () => process.exit(0));
ws.on("error", (err) => { clearTimeout(timer); out({ status: 0, error: String(err) }); process.exit(1); });
