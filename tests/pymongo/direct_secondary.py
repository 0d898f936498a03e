"""PyMongo with directConnection=true against one secondary of a simulated set.

argv: the secondary's host:port, the replica set name.
"""
import sys

import pymongo
from pymongo.errors import NotPrimaryError

from common import Heartbeats, step, wait_for

address, set_name = sys.argv[1], sys.argv[2]
host, port = address.split(":")[0], int(address.split(":")[1])

beats = Heartbeats()
client = pymongo.MongoClient(
    f"mongodb://{address}/?directConnection=true",
    serverSelectionTimeoutMS=5000,
    heartbeatFrequencyMS=500,
    event_listeners=[beats],
)
assert client.admin.command("ping")["ok"] == 1.0
desc = client.topology_description
assert desc.topology_type_name == "Single", desc.topology_type_name
server = desc.server_descriptions()[(host, port)]
assert server.server_type_name == "RSSecondary", server.server_type_name
assert server.replica_set_name == set_name, server.replica_set_name
assert client.nodes == {(host, port)}, client.nodes
step("direct connection sees a single RSSecondary")

# Reads go to the secondary (a direct connection reads with primaryPreferred).
assert list(client.test.things.find({})) == []
step("find on the secondary returned an empty result")

try:
    client.test.things.insert_one({"x": 1})
    raise AssertionError("the secondary accepted a write")
except NotPrimaryError as e:
    assert e.details["code"] == 10107, e.details
    step("insert refused with NotWritablePrimary")

wait_for("a streaming heartbeat", lambda: beats.awaited_count() > 0, 3)
assert not beats.errors, f"heartbeats failed: {[str(e.reply) for e in beats.errors]}"
client.close()
print("PASS", flush=True)
