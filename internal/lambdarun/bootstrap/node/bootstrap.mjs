// wsgate's Node.js bootstrap: a Lambda Runtime API (2018-06-01) client that loads the
// handler named by _HANDLER ("file.export", "dir/file.export") from LAMBDA_TASK_ROOT,
// CommonJS or ES module, async or callback style, and runs invocations one at a time.
import http from "node:http";
import path from "node:path";
import fs from "node:fs";
import util from "node:util";
import { register } from "node:module";
import { pathToFileURL } from "node:url";

const env = process.env;
const [apiHost, apiPort] = env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const taskRoot = env.LAMBDA_TASK_ROOT || process.cwd();

// ES modules ignore NODE_PATH: a resolve hook retries bare specifiers the function's
// own node_modules lack in the directory wsgate provides (the AWS SDK).
if (env.WSGATE_NODE_MODULES) {
  register("./hooks.mjs", import.meta.url, { data: { nodeModules: env.WSGATE_NODE_MODULES } });
}

function request(method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: apiHost, port: apiPort, method, path: "/2018-06-01/runtime/" + p, agent, headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.setHeader("Content-Type", "application/json");
    req.end(body);
  });
}

function errorObject(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || "Error",
      errorMessage: err.message,
      trace: String(err.stack || "").split("\n"),
    };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

async function postError(p, err, type) {
  const obj = errorObject(err);
  if (type) obj.errorType = type;
  console.error(JSON.stringify(obj));
  return request("POST", p, JSON.stringify(obj), { "Lambda-Runtime-Function-Error-Type": obj.errorType });
}

// console.* as Lambda's: "<time>\t<request id>\t<LEVEL>\t<message>", newlines as \r.
let currentRequestId = undefined;
for (const [name, level, stream] of [
  ["log", "INFO", process.stdout], ["info", "INFO", process.stdout], ["debug", "DEBUG", process.stdout],
  ["warn", "WARN", process.stderr], ["error", "ERROR", process.stderr], ["trace", "TRACE", process.stderr],
]) {
  console[name] = (...args) => {
    const msg = util.format(...args).replace(/\n/g, "\r");
    stream.write(`${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\t${level}\t${msg}\n`);
  };
}

function moduleFile(base) {
  for (const ext of [".js", ".mjs", ".cjs"]) {
    const f = base + ext;
    if (fs.existsSync(f)) return f;
  }
  return null;
}

async function loadHandler() {
  const spec = env._HANDLER || "";
  const slash = spec.lastIndexOf("/");
  const dot = spec.indexOf(".", slash + 1);
  if (dot < 0) {
    const e = new Error(`Bad handler ${spec}`);
    e.name = "Runtime.MalformedHandlerName";
    throw e;
  }
  const modPath = spec.slice(0, dot);
  const names = spec.slice(dot + 1).split(".");
  const file = moduleFile(path.resolve(taskRoot, modPath));
  if (!file) {
    const e = new Error(`Error: Cannot find module '${modPath}'`);
    e.name = "Runtime.ImportModuleError";
    throw e;
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    if (err && (err.code === "ERR_MODULE_NOT_FOUND" || err.code === "MODULE_NOT_FOUND")) {
      const e = new Error(`${err.name}: ${err.message}`);
      e.name = "Runtime.ImportModuleError";
      e.stack = err.stack;
      throw e;
    }
    if (err instanceof SyntaxError) {
      const e = new Error(`${err.name}: ${err.message}`);
      e.name = "Runtime.UserCodeSyntaxError";
      e.stack = err.stack;
      throw e;
    }
    throw err;
  }
  let fn = mod;
  for (const n of names) fn = fn?.[n] ?? (fn === mod ? mod.default?.[n] : undefined);
  if (typeof fn !== "function") {
    const e = new Error(`${modPath}.${names.join(".")} is undefined or not exported`);
    e.name = "Runtime.HandlerNotFound";
    throw e;
  }
  return fn;
}

function makeContext(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const ctx = {
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  if (headers["lambda-runtime-client-context"]) {
    try { ctx.clientContext = JSON.parse(headers["lambda-runtime-client-context"]); } catch {}
  }
  if (headers["lambda-runtime-cognito-identity"]) {
    try { ctx.identity = JSON.parse(headers["lambda-runtime-cognito-identity"]); } catch {}
  }
  return ctx;
}

// runHandler calls fn in the async style or the callback style (three parameters),
// whichever comes first settling the invocation.
function runHandler(fn, event, ctx) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err, value) => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err);
      else resolve(value);
    };
    ctx.done = done;
    ctx.succeed = (v) => done(null, v);
    ctx.fail = (e) => done(e ?? new Error("handled"));
    try {
      const r = fn(event, ctx, done);
      if (r && typeof r.then === "function") r.then((v) => done(null, v), (e) => done(e ?? new Error("rejected")));
      else if (fn.length < 3) done(null, r);
    } catch (err) {
      done(err);
    }
  });
}

let current = null; // the invocation id being run, for an uncaught exception
process.on("uncaughtException", async (err) => {
  if (current) await postError(`invocation/${current}/error`, err).catch(() => {});
  else console.error(util.format(err));
  process.exit(129);
});
process.on("unhandledRejection", async (reason) => {
  if (current) await postError(`invocation/${current}/error`, reason).catch(() => {});
  else console.error(util.format(reason));
  process.exit(128);
});

let handler;
try {
  handler = await loadHandler();
} catch (err) {
  await postError("init/error", err, err.name);
  process.exit(1);
}

for (;;) {
  const next = await request("GET", "invocation/next");
  if (next.status !== 200) {
    console.error(`runtime API: next: ${next.status}`);
    process.exit(1);
  }
  const id = next.headers["lambda-runtime-aws-request-id"];
  current = currentRequestId = id;
  if (next.headers["lambda-runtime-trace-id"]) env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"];
  let event;
  try {
    event = JSON.parse(next.body.toString("utf8"));
  } catch (err) {
    await postError(`invocation/${id}/error`, err, "Runtime.UnmarshalError");
    continue;
  }
  try {
    const value = await runHandler(handler, event, makeContext(next.headers));
    const body = value === undefined ? "null" : JSON.stringify(value);
    await request("POST", `invocation/${id}/response`, body);
  } catch (err) {
    await postError(`invocation/${id}/error`, err);
  }
  current = null;
}
