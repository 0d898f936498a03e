// The Node.js driver's probe for scripts/bench: the same arguments, line protocol and
// definitions as mongo-topology's probe (examples/bench_probe.rs, whose documentation
// describes them). The client's view is its SDAM monitoring: the driver emits
// `topologyDescriptionChanged` synchronously when its description changes (no queue, unlike
// PyMongo's listeners), so the time an event arrives is when the view changed. The driver
// has no public server selection API, so there is no `selection` scenario here.
//
// Usage: node bench_probe.mjs SCENARIO URI|@URI-FILE [COUNT]   (MONGO_TOPOLOGY_NODE_DIR: see common.mjs)
import fs from "node:fs";
import readline from "node:readline";

import { mongodb } from "./common.mjs";

const say = (line) => process.stdout.write(`${line}\n`);
const nowMs = () => performance.now();
const unixMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function allKnown(description, count) {
  const servers = [...description.servers.values()];
  return servers.length === count && servers.every((s) => s.type !== "Unknown");
}

function primaryOf(description) {
  const primaries = [...description.servers.values()].filter((s) => s.type === "RSPrimary");
  return primaries.length === 1 ? primaries[0].address : null;
}

/** A client whose every description change is handed to `onDescription`. */
function watchedClient(uri, onDescription) {
  const client = new mongodb.MongoClient(uri);
  client.on("topologyDescriptionChanged", (event) => onDescription(event.newDescription));
  return client;
}

async function until(condition, pollMs = 0.5) {
  while (!condition()) {
    await sleep(pollMs);
  }
}

async function discovery(uri, members) {
  let figures;
  for (let run = 0; run < 2; run += 1) {
    // one discarded warm-up, then the measured run
    let known = null;
    const started = nowMs();
    const client = watchedClient(uri, (description) => {
      if (known === null && allKnown(description, members)) {
        known = nowMs();
      }
    });
    await client.db("admin").command({ ping: 1 });
    const pinged = nowMs();
    await until(() => known !== null);
    figures = { known_ms: known - started, ping_ms: pinged - started };
    await client.close();
  }
  say(JSON.stringify(figures));
}

async function failover(uri) {
  const state = { primaries: [], inserts: [], current: null, allKnown: false };
  const client = watchedClient(uri, (description) => {
    const now = primaryOf(description);
    state.allKnown = allKnown(description, 3);
    if (now !== state.current) {
      if (now !== null) {
        state.primaries.push([now, unixMicros()]);
      }
      state.current = now;
    }
  });
  client.connect().catch(() => {});
  await until(() => state.allKnown && state.current !== null);
  const collection = client.db("test").collection("bench");
  (async () => {
    for (let sequence = 1; ; sequence += 1) {
      try {
        await collection.insertOne({ _id: sequence });
      } catch {
        continue; // retried at once, as the scenario says
      }
      state.inserts.push(unixMicros());
      await sleep(10);
    }
  })();
  say("ready");
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const words = line.split(/\s+/).filter(Boolean);
    if (words.length === 1 && words[0] === "noprimary") {
      await until(() => state.current === null);
      say("ok");
    } else if (words.length === 3 && words[0] === "elected") {
      const at = Number(words[1]);
      const address = words[2];
      const first = () => {
        const view = state.primaries.find(([p, w]) => p === address && w >= at)?.[1];
        const insert = state.inserts.find((w) => w >= at);
        return view !== undefined && insert !== undefined ? { view, insert } : null;
      };
      await until(() => first() !== null);
      const { view, insert } = first();
      say(JSON.stringify({ view_ms: (view - at) / 1e3, insert_ms: (insert - at) / 1e3 }));
    } else {
      throw new Error(`unknown control line ${JSON.stringify(line)}`);
    }
  }
  process.exit(0); // the insert loop would keep running after stdin closed
}

async function scale(uri, count) {
  let known = null;
  const started = nowMs();
  const client = watchedClient(uri, (description) => {
    if (known === null && allKnown(description, count)) {
      known = nowMs();
    }
  });
  client.connect().catch(() => {});
  await until(() => known !== null, 1);
  say(JSON.stringify({ known_ms: known - started }));
  for await (const _line of readline.createInterface({ input: process.stdin })) {
    // idle until stdin closes
  }
  await client.close();
}

const [scenario, uriArgument, count] = process.argv.slice(2);
// `@PATH`: the connection string is in the file PATH (10,000 mongos exceed the 128 KiB limit
// of one argument).
const uri = uriArgument.startsWith("@")
  ? fs.readFileSync(uriArgument.slice(1), "utf8").trim()
  : uriArgument;
if (scenario === "discovery") {
  await discovery(uri, Number(count));
} else if (scenario === "failover") {
  await failover(uri);
} else if (scenario === "scale") {
  await scale(uri, Number(count));
} else {
  throw new Error(`unknown scenario ${scenario} (no selection: no public API)`);
}
