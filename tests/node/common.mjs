// What the Node.js interoperability probes share (run by tests/nodejs.rs and scripts/bench).
//
// The driver (npm `mongodb`, pinned by package-lock.json beside this file) is installed by
// scripts/node-driver into a directory under the target dir, which MONGO_TOPOLOGY_NODE_DIR
// names; it is loaded from there, so nothing is installed next to these scripts.
//
// Protocol on stdout, one JSON object a line: {"request": VERB} asks the Rust side to act on
// the simulator (it answers "done" on stdin); {"result": {...}} is what the test asserts on.
// Progress goes to stderr.
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";

const nodeDir = process.env.MONGO_TOPOLOGY_NODE_DIR;
if (!nodeDir) {
  throw new Error("MONGO_TOPOLOGY_NODE_DIR is not set (the directory holding node_modules/mongodb)");
}
const require = createRequire(path.join(path.resolve(nodeDir), "package.json"));

/** The driver module. */
export const mongodb = require("mongodb");
/** The driver's version, from its package.json. */
export const driverVersion = require("mongodb/package.json").version;

/** Prints a progress line on stderr. */
export function step(message) {
  process.stderr.write(`${message}\n`);
}

/** Prints the probe's result, the line the Rust test parses. */
export function result(value) {
  process.stdout.write(`${JSON.stringify({ result: value })}\n`);
}

/** Asks the Rust side to act on the deployment and waits until it answers "done". */
export async function request(verb) {
  // One reader per request, closed after the answer: an open stdin would keep Node running.
  const reader = readline.createInterface({ input: process.stdin });
  const lines = reader[Symbol.asyncIterator]();
  process.stdout.write(`${JSON.stringify({ request: verb })}\n`);
  const answer = await lines.next();
  reader.close();
  if (answer.done || answer.value.trim() !== "done") {
    throw new Error(`control request ${verb} answered ${JSON.stringify(answer.value)}`);
  }
}

/** Polls `predicate` every 20 ms until it returns a truthy value, for at most `timeoutMs`. */
export async function waitFor(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Records what the driver's SDAM monitoring reports: the latest topology description (type
 * and server types by address), every topology type seen, and the heartbeats.
 */
export class SdamLog {
  constructor(client) {
    this.topologyType = "Unknown";
    this.servers = {};
    this.topologyTypesSeen = new Set();
    this.serverTypesSeen = new Set();
    this.heartbeats = { succeeded: 0, awaited: 0, failed: 0, failures: [] };
    client.on("topologyDescriptionChanged", (event) => {
      const description = event.newDescription;
      this.topologyType = description.type;
      this.topologyTypesSeen.add(description.type);
      this.servers = {};
      for (const [address, server] of description.servers) {
        this.servers[address] = server.type;
        this.serverTypesSeen.add(server.type);
      }
    });
    client.on("serverHeartbeatSucceeded", (event) => {
      this.heartbeats.succeeded += 1;
      if (event.awaited) {
        this.heartbeats.awaited += 1;
      }
    });
    client.on("serverHeartbeatFailed", (event) => {
      this.heartbeats.failed += 1;
      this.heartbeats.failures.push(String(event.failure));
    });
  }

  /** The address the latest description holds as RSPrimary, if any. */
  primary() {
    return Object.keys(this.servers).find((address) => this.servers[address] === "RSPrimary");
  }

  /** A plain object for the result line. */
  summary() {
    return {
      topology_type: this.topologyType,
      servers: this.servers,
      topology_types_seen: [...this.topologyTypesSeen].sort(),
      server_types_seen: [...this.serverTypesSeen].sort(),
      heartbeats: this.heartbeats,
    };
  }
}

/** The error's name, code and codeName, for the result line. */
export function describeError(error) {
  return {
    name: error?.constructor?.name ?? typeof error,
    code: error?.code ?? null,
    code_name: error?.codeName ?? null,
    message: String(error?.message ?? error),
  };
}
