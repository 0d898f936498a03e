"""PyMongo against a simulated 3-member replica set, from a single seed.

argv: seed host:port, replica set name, the three member addresses in order.
The Rust side performs control operations when asked on stdout.
"""
import sys
import time

import pymongo
from pymongo.errors import NotPrimaryError

from common import Heartbeats, request, step, wait_for

seed, set_name, members = sys.argv[1], sys.argv[2], sys.argv[3:]
addresses = {tuple([m.split(":")[0], int(m.split(":")[1])]) for m in members}
first = (members[0].split(":")[0], int(members[0].split(":")[1]))
second = (members[1].split(":")[0], int(members[1].split(":")[1]))

beats = Heartbeats()
client = pymongo.MongoClient(
    f"mongodb://{seed}/?replicaSet={set_name}",
    serverSelectionTimeoutMS=5000,
    heartbeatFrequencyMS=500,
    event_listeners=[beats],
)

# Discovery from a single seed: every member and the primary.
wait_for("all members", lambda: client.nodes == addresses, 5)
wait_for("the primary", lambda: client.primary == first, 5)
desc = client.topology_description
assert desc.topology_type_name == "ReplicaSetWithPrimary", desc.topology_type_name
kinds = sorted(s.server_type_name for s in desc.server_descriptions().values())
assert kinds == ["RSPrimary", "RSSecondary", "RSSecondary"], kinds
step(f"discovered {sorted(client.nodes)} primary {client.primary}")

assert client.admin.command("ping")["ok"] == 1.0
result = client.test.things.insert_one({"x": 1})
assert result.acknowledged
info = client.admin.command("buildInfo")
assert info["version"].startswith("7.0."), info["version"]
step("ping, insert and buildInfo on the primary")

# Stepdown + elect: the streaming monitor must find the new primary within 2 s.
started = time.monotonic()
request("stepdown-elect-1")
wait_for("the new primary", lambda: client.primary == second, 2.0)
step(f"new primary {client.primary} after {time.monotonic() - started:.3f}s")
assert client.test.things.insert_one({"x": 2}).acknowledged

# The old primary now refuses writes with NotWritablePrimary.
old = pymongo.MongoClient(
    f"mongodb://{members[0]}/?directConnection=true",
    serverSelectionTimeoutMS=5000,
    heartbeatFrequencyMS=500,
)
try:
    old.test.things.insert_one({"x": 3})
    raise AssertionError("the old primary accepted a write")
except NotPrimaryError as e:
    assert e.details["code"] == 10107, e.details
    assert e.details.get("codeName") == "NotWritablePrimary", e.details
    step(f"old primary refused the write: {e.details.get('codeName')}")
old.close()

assert beats.awaited_count() > 0, "PyMongo never used the streaming (awaited) hello"
assert not beats.errors, f"heartbeats failed: {[str(e.reply) for e in beats.errors]}"
client.close()
print("PASS", flush=True)
