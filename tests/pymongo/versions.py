"""PyMongo against every emulated version and topology kind.

argv: triples of (connection string, server version, expected topology type).
PyMongo 4.20 requires wire version 9 (MongoDB 4.4): older versions must be refused with a
wire-version error, which proves the simulator reports them faithfully.
"""
import sys

import pymongo
from pymongo.errors import ConfigurationError

from common import Heartbeats, step

args = sys.argv[1:]
assert args and len(args) % 3 == 0, args
for uri, version, expected in zip(args[0::3], args[1::3], args[2::3]):
    beats = Heartbeats()
    client = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=5000, heartbeatFrequencyMS=500, event_listeners=[beats]
    )
    try:
        if expected == "refused":
            try:
                client.admin.command("ping")
                raise AssertionError(f"{version}: PyMongo accepted an old server")
            except ConfigurationError as e:
                assert "wire version" in str(e), str(e)
            step(f"{version}: refused as too old, as expected")
            continue
        assert client.admin.command("ping")["ok"] == 1.0
        info = client.admin.command("buildInfo")
        assert info["version"].startswith(version + "."), (version, info["version"])
        assert client.test.things.insert_one({"v": version}).acknowledged
        # The simulator keeps documents (as a server does): the insert is read back.
        found = [doc.get("v") for doc in client.test.things.find({})]
        assert found == [version], (version, found)
        kind = client.topology_description.topology_type_name
        assert kind == expected, (version, kind, expected)
        assert not beats.errors, [str(e.reply) for e in beats.errors]
        step(f"{version}: {kind} ok")
    finally:
        client.close()
print("PASS", flush=True)
