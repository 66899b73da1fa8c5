// Runs lambda_handler.mjs's handler once, as the Lambda runtime would: the event JSON on
// stdin, the handler's result as JSON on stdout. A thrown error is printed as Lambda's
// {"errorMessage","errorType"} and the exit status is 1.
import { handler } from "./lambda_handler.mjs";

const chunks = [];
for await (const chunk of process.stdin) {
  chunks.push(chunk);
}
try {
  const result = await handler(JSON.parse(Buffer.concat(chunks).toString("utf8")));
  process.stdout.write(JSON.stringify(result) + "\n");
} catch (err) {
  process.stdout.write(JSON.stringify({ errorMessage: String(err?.message ?? err), errorType: err?.name ?? "Error" }) + "\n");
  process.exitCode = 1;
}
