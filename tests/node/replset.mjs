// The Node.js driver against a simulated 3-member replica set, from a single seed:
// discovery, then a stepdown + election during which its writes must succeed again on the
// new primary.
//
// Usage: node replset.mjs SEED SET_NAME
// Asks for "stepdown-elect-1"; prints one result line (see common.mjs).
import { mongodb, driverVersion, request, result, SdamLog, step, waitFor, describeError } from "./common.mjs";

const [seed, setName] = process.argv.slice(2);
const client = new mongodb.MongoClient(`mongodb://${seed}/?replicaSet=${setName}`, {
  serverSelectionTimeoutMS: 10000,
  heartbeatFrequencyMS: 500,
});
const log = new SdamLog(client);
await client.connect();

// Discovery: every member known, one primary.
await waitFor(
  "three members and a primary",
  () => Object.keys(log.servers).length === 3 && log.primary() && !Object.values(log.servers).includes("Unknown"),
  10000,
);
const discovered = log.summary();
const firstPrimary = log.primary();
step(`discovered ${JSON.stringify(discovered.servers)}`);

const things = client.db("test").collection("things");
const ping = await client.db("admin").command({ ping: 1 });
const firstInsert = await things.insertOne({ x: 1 });
const buildInfo = await client.db("admin").command({ buildInfo: 1 });

// Failover: from the moment the election is done, insert until a write succeeds (the
// driver retries once by itself; this loop counts what surfaces to the application).
await request("stepdown-elect-1");
const started = performance.now();
const errors = [];
let attempts = 0;
for (;;) {
  attempts += 1;
  try {
    await things.insertOne({ x: 2 });
    break;
  } catch (error) {
    errors.push(describeError(error));
    if (performance.now() - started > 15000) {
      throw error;
    }
  }
}
const writeAgainMs = performance.now() - started;
await waitFor("the new primary in the driver's view", () => log.primary() && log.primary() !== firstPrimary, 10000);
const newPrimaryMs = performance.now() - started;
// The driver marks the old primary Unknown when it refuses a write (NotWritablePrimary);
// its next heartbeat shows it as a secondary.
await waitFor("the old primary as a secondary", () => log.servers[firstPrimary] === "RSSecondary", 10000);
const oldPrimarySecondaryMs = performance.now() - started;
step(`wrote again after ${writeAgainMs.toFixed(1)} ms; new primary ${log.primary()}`);

result({
  driver_version: driverVersion,
  discovered,
  first_primary: firstPrimary,
  ping_ok: ping.ok,
  first_insert_acknowledged: firstInsert.acknowledged,
  server_version: buildInfo.version,
  failover: {
    new_primary: log.primary(),
    write_again_ms: writeAgainMs,
    new_primary_ms: newPrimaryMs,
    old_primary_secondary_ms: oldPrimarySecondaryMs,
    attempts,
    errors,
  },
  after: log.summary(),
});
await client.close();
