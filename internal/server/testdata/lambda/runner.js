// runner.js invokes one Lambda handler once, as the Node.js runtime would: the event is
// the JSON on stdin, the result is printed as JSON on stdout; a thrown error is printed
// as the runtime's error payload ({errorMessage, errorType, stackTrace}) and the exit
// code is 3, which the test's Invoke API turns into X-Amz-Function-Error: Unhandled.
const path = require("path");

const [handlerFile, handlerName = "handler"] = process.argv.slice(2);
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", async () => {
  const raw = Buffer.concat(chunks).toString("utf8");
  try {
    const event = raw.trim() === "" ? {} : JSON.parse(raw);
    const mod = require(path.resolve(handlerFile));
    const result = await mod[handlerName](event, { functionName: path.basename(handlerFile, ".js") });
    process.stdout.write(result === undefined ? "null" : JSON.stringify(result));
  } catch (e) {
    process.stdout.write(JSON.stringify({
      errorMessage: e.message,
      errorType: e.name,
      stackTrace: String(e.stack || "").split("\n").slice(1).map((s) => s.trim()),
    }));
    process.exitCode = 3;
  }
});
