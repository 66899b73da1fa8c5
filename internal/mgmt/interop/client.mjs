// Drives wsgate's @connections API with the AWS SDK for JavaScript v3, as a backend
// would, and prints one JSON object with the outcome of each call. Run by
// TestJSSDKInterop (../interop_test.go); install with `npm ci` in this directory.
//
// Environment: WSGATE_ENDPOINT (e.g. http://127.0.0.1:1234/dev), AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional), CONNECTION_ID, GONE_ID,
// POST_DATA (the text to post).
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
  GetConnectionCommand,
  DeleteConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) {
    throw new Error(`client.mjs: ${name} is not set`);
  }
  return v;
};

const client = (secretAccessKey) =>
  new ApiGatewayManagementApiClient({
    region: "us-east-1",
    endpoint: env("WSGATE_ENDPOINT"),
    maxAttempts: 1,
    credentials: {
      accessKeyId: env("AWS_ACCESS_KEY_ID"),
      secretAccessKey,
      sessionToken: process.env.AWS_SESSION_TOKEN || undefined,
    },
  });

// outcome runs one call and describes its result or error, with the request id the SDK
// read from the answer ($metadata.requestId, on a result and on an error alike).
async function outcome(fn) {
  try {
    const out = await fn();
    const result = { ok: true, status: out.$metadata.httpStatusCode, requestId: out.$metadata.requestId ?? "" };
    if (out.ConnectedAt) {
      result.connectedAt = out.ConnectedAt.toISOString();
      result.lastActiveAt = out.LastActiveAt.toISOString();
      result.identity = out.Identity;
    }
    return result;
  } catch (err) {
    return {
      ok: false,
      status: err.$metadata?.httpStatusCode ?? 0,
      requestId: err.$metadata?.requestId ?? "",
      name: err.name,
      message: err.message,
    };
  }
}

const good = client(env("AWS_SECRET_ACCESS_KEY"));
const bad = client("not-the-secret");
const id = env("CONNECTION_ID");
const data = new TextEncoder().encode(env("POST_DATA"));

const results = {
  post: await outcome(() => good.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }))),
  get: await outcome(() => good.send(new GetConnectionCommand({ ConnectionId: id }))),
  delete: await outcome(() => good.send(new DeleteConnectionCommand({ ConnectionId: id }))),
  gone: await outcome(() => good.send(new PostToConnectionCommand({ ConnectionId: env("GONE_ID"), Data: data }))),
  badSignature: await outcome(() => bad.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }))),
};
process.stdout.write(JSON.stringify(results) + "\n");
