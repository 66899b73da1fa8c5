// The bench API's Lambda handlers for serverless-offline (see serverless.yml).
"use strict";
const crypto = require("node:crypto");

const SECRET = "wsgate-development-key--never-use-in-production"; // wsgate's DevHMACSecret
const MGMT = process.env.MGMT_URL || "http://127.0.0.1:3301";

function cookies(header) {
  const out = {};
  for (const part of (header || "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function verifyHS256(token) {
  const [h, p, s] = (token || "").split(".");
  if (!s) return null;
  const want = crypto.createHmac("sha256", SECRET).update(h + "." + p).digest("base64url");
  if (want.length !== s.length || !crypto.timingSafeEqual(Buffer.from(want), Buffer.from(s))) return null;
  const header = JSON.parse(Buffer.from(h, "base64url").toString());
  if (header.alg !== "HS256") return null;
  const claims = JSON.parse(Buffer.from(p, "base64url").toString());
  if (typeof claims.exp !== "number" || claims.exp * 1000 < Date.now()) return null;
  return claims;
}

function policy(principalId, effect, resource) {
  return {
    principalId,
    policyDocument: { Version: "2012-10-17", Statement: [{ Action: "execute-api:Invoke", Effect: effect, Resource: resource }] },
  };
}

// auth is the same decision as wsgate's cookie authorizer: a valid JWT cookie whose
// csrf claim equals the CSRF-TOKEN cookie and the csrf query parameter.
exports.auth = async (event) => {
  const headers = event.headers || {};
  const c = cookies(headers.Cookie || headers.cookie);
  const claims = verifyHS256(c.JWT);
  const q = (event.queryStringParameters || {}).csrf;
  if (!claims || !claims.csrf || claims.csrf !== c["CSRF-TOKEN"] || claims.csrf !== q) {
    throw new Error("Unauthorized");
  }
  return policy(claims.sub, "Allow", event.methodArn);
};

async function post(connectionId, body) {
  const r = await fetch(MGMT + "/@connections/" + encodeURIComponent(connectionId), { method: "POST", body });
  if (!r.ok) throw new Error("post: " + r.status); // serverless-offline answers 204, AWS 200
}

exports.connect = async () => ({ statusCode: 200 });
exports.disconnect = async () => ({ statusCode: 200 });
exports.whoami = async (event) => {
  await post(event.requestContext.connectionId, JSON.stringify({ id: event.requestContext.connectionId }));
  return { statusCode: 200 };
};
exports.route = async (event) => {
  await post(event.requestContext.connectionId, event.body);
  return { statusCode: 200 };
};
