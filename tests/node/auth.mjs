// The Node.js driver authenticating against a simulated server with users: SCRAM-SHA-256,
// SCRAM-SHA-1 and a negotiated mechanism succeed; a wrong password is refused.
//
// Usage: node auth.mjs HOST:PORT USER PASSWORD
// Prints one result line (see common.mjs).
import { mongodb, driverVersion, result, describeError } from "./common.mjs";

const [address, user, password] = process.argv.slice(2);

function client(options) {
  return new mongodb.MongoClient(`mongodb://${address}/`, {
    directConnection: true,
    serverSelectionTimeoutMS: 5000,
    ...options,
  });
}

async function attempt(options) {
  const c = client(options);
  try {
    const reply = await c.db("test").command({ find: "c" });
    return { ok: reply.ok };
  } catch (error) {
    return { ok: 0, error: describeError(error) };
  } finally {
    await c.close();
  }
}

const results = { unauthenticated: await attempt({}) };
for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-1", null]) {
  const auth = { auth: { username: user, password }, authSource: "admin" };
  if (mechanism) {
    auth.authMechanism = mechanism;
  }
  results[mechanism ?? "negotiated"] = await attempt(auth);
}
for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-1"]) {
  results[`wrong password ${mechanism}`] = await attempt({
    auth: { username: user, password: `${password}-wrong` },
    authSource: "admin",
    authMechanism: mechanism,
  });
}
result({ driver_version: driverVersion, results });
