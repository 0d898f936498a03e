// The Node.js driver (Node's tls, i.e. OpenSSL) over TLS against a simulated replica set
// serving certificates the simulator generated: the right CA verifies, another CA does not.
//
// Usage: node tls.mjs SEED SET_NAME CA_FILE OTHER_CA_FILE
// Prints one result line (see common.mjs).
import { mongodb, driverVersion, result, SdamLog, waitFor, describeError } from "./common.mjs";

const [seed, setName, caFile, otherCaFile] = process.argv.slice(2);
const uri = (ca) => `mongodb://${seed}/?replicaSet=${setName}&tls=true&tlsCAFile=${encodeURIComponent(ca)}`;

const verified = new mongodb.MongoClient(uri(caFile), { serverSelectionTimeoutMS: 10000 });
const log = new SdamLog(verified);
const ping = await verified.db("admin").command({ ping: 1 });
await waitFor(
  "three members over TLS",
  () => Object.keys(log.servers).length === 3 && !Object.values(log.servers).includes("Unknown"),
  10000,
);
const discovered = log.summary();
await verified.close();

const wrong = new mongodb.MongoClient(uri(otherCaFile), { serverSelectionTimeoutMS: 2000 });
let otherCa = { accepted: true };
try {
  await wrong.db("admin").command({ ping: 1 });
} catch (error) {
  otherCa = { accepted: false, error: describeError(error), reason: String(error.reason?.error ?? error.cause ?? "") };
  for (const server of error.reason?.servers?.values?.() ?? []) {
    otherCa.reason += ` ${server.error ?? ""}`;
  }
}
await wrong.close();

result({ driver_version: driverVersion, ping_ok: ping.ok, discovered, other_ca: otherCa });
