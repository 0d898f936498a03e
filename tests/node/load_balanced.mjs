// The Node.js driver in load-balanced mode through the simulator's load balancer in front
// of two mongos: concurrent writes and a ping, and a LoadBalanced topology with one server.
//
// Usage: node load_balanced.mjs URI
// Prints one result line (see common.mjs).
import { mongodb, driverVersion, result, SdamLog } from "./common.mjs";

const [uri] = process.argv.slice(2);
const client = new mongodb.MongoClient(uri, { serverSelectionTimeoutMS: 10000 });
const log = new SdamLog(client);
await client.connect();
const things = client.db("test").collection("things");
const inserts = await Promise.all([...Array(8).keys()].map((x) => things.insertOne({ x })));
const ping = await client.db("admin").command({ ping: 1 });
result({
  driver_version: driverVersion,
  acknowledged: inserts.filter((r) => r.acknowledged).length,
  ping_ok: ping.ok,
  sdam: log.summary(),
});
await client.close();
