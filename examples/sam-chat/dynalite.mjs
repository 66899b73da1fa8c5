// A local DynamoDB (dynalite, in memory) for the tests: listens on 127.0.0.1 at a free
// port, prints {"port": N} on one line, and exits when its standard input closes (the
// test that started it ended).
import dynalite from "dynalite";

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
process.stdin.on("end", () => server.close(() => process.exit(0)));
process.stdin.resume();
