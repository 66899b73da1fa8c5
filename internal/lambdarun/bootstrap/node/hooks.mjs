// Module resolve hook (module.register): a bare specifier that the handler's own
// node_modules cannot resolve is resolved from the node_modules wsgate provides, as
// the Lambda runtime provides the AWS SDK v3.
import path from "node:path";
import { pathToFileURL } from "node:url";

let base = null;

export async function initialize(data) {
  if (data && data.nodeModules) base = pathToFileURL(path.join(path.dirname(data.nodeModules), "wsgate-resolve.mjs")).href;
}

function bare(s) {
  return !(s.startsWith(".") || s.startsWith("/") || s.startsWith("node:") || /^[a-z][a-z0-9+.-]*:/i.test(s));
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (!base || !bare(specifier) || err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
    return nextResolve(specifier, { ...context, parentURL: base });
  }
}
