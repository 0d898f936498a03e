"""PyMongo against the real-world traps the simulator stages: what another client does with
them (the consequences doctor's findings announce).

Usage: world.py SCENARIO ARGS...
  unresolvable SEED SET_NAME DIRECT_SEED   members advertise names that do not resolve
  lb-members LB_ADDRESS                    a load balancer in front of replica set members
  sha1-only SEED                           the server offers SCRAM-SHA-1 only (user app:s3cret)
  old-member SEED OLD_ADDRESS              one member runs 4.2 (wire version 8)
  two-primaries SEED STALE NEW SECONDARY   a stale primary still claims an older term
  horizon LOCALHOST_SEED IP_SEED CA_FILE   a split horizon "local" naming members localhost
Prints "PASS" at the end; any failure raises.
"""
import sys

import pymongo
from pymongo.errors import (
    ConfigurationError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from common import step, wait_for

scenario, args = sys.argv[1], sys.argv[2:]


def unresolvable(seed, set_name, direct_seed):
    client = pymongo.MongoClient(
        f"mongodb://{seed}/?replicaSet={set_name}", serverSelectionTimeoutMS=1500
    )
    try:
        client.test.things.insert_one({"x": 1})
        raise AssertionError("the write went through to an unresolvable member")
    except ServerSelectionTimeoutError as error:
        assert ".invalid" in str(error), str(error)
        step(f"write timed out: {str(error)[:160]}")
    finally:
        client.close()
    # The usual "fix": a direct connection works, and turns failover off.
    with pymongo.MongoClient(
        f"mongodb://{direct_seed}/?directConnection=true", serverSelectionTimeoutMS=3000
    ) as direct:
        direct.test.things.insert_one({"x": 1})
        assert direct.topology_description.topology_type_name == "Single"
    step("directConnection=true to the primary's listening address writes")


def lb_members(lb_address):
    client = pymongo.MongoClient(
        f"mongodb://{lb_address}/?loadBalanced=true", serverSelectionTimeoutMS=3000
    )
    try:
        client.admin.command("ping")
        raise AssertionError("load-balanced mode worked without a serviceId")
    except PyMongoError as error:
        assert "serviceId" in str(error) or "load balanc" in str(error), repr(error)
        step(f"load-balanced client refused: {type(error).__name__}: {error}")
    finally:
        client.close()


def sha1_only(seed):
    with pymongo.MongoClient(
        f"mongodb://app:s3cret@{seed}/?authMechanism=SCRAM-SHA-256",
        serverSelectionTimeoutMS=3000,
    ) as insisting:
        try:
            insisting.admin.command("ping")
            raise AssertionError("SCRAM-SHA-256 accepted by a SCRAM-SHA-1 only server")
        except OperationFailure as error:
            assert error.code == 334, error.details
            step(f"authMechanism=SCRAM-SHA-256 refused: {error}")
    with pymongo.MongoClient(
        f"mongodb://app:s3cret@{seed}/", serverSelectionTimeoutMS=3000
    ) as negotiating:
        negotiating.test.command("find", "things")
    step("negotiated through saslSupportedMechs: SCRAM-SHA-1 works")


def old_member(seed, old_address):
    with pymongo.MongoClient(
        f"mongodb://{seed}/?replicaSet=rs0",
        serverSelectionTimeoutMS=3000,
        heartbeatFrequencyMS=500,
    ) as client:
        # Before the old member is checked, operations run; once it is, none does.
        wait_for("all 3 members checked", lambda: len(client.nodes) == 3, 10)
        try:
            client.admin.command("ping")
            raise AssertionError("a wire version 8 member went unnoticed")
        except (ConfigurationError, ServerSelectionTimeoutError) as error:
            assert old_address in str(error) and "wire version" in str(error), str(error)
            step(f"refused with a 4.2 member: {error}")


def two_primaries(seed, stale_primary, new_primary, secondary):
    def address(text):
        host, port = text.rsplit(":", 1)
        return (host, int(port))

    with pymongo.MongoClient(
        f"mongodb://{seed}/?replicaSet=rs0",
        serverSelectionTimeoutMS=3000,
        heartbeatFrequencyMS=500,
    ) as client:
        client.test.things.insert_one({"x": 1})
        wait_for("the secondary checked", lambda: address(secondary) in client.nodes, 10)
        assert client.primary == address(new_primary), client.primary
        # The stale primary's older electionId makes it Unknown: out of client.nodes.
        assert address(stale_primary) not in client.nodes, client.nodes
        primaries = [
            s
            for s in client.topology_description.server_descriptions().values()
            if s.server_type_name == "RSPrimary"
        ]
        assert len(primaries) == 1, primaries
    step("PyMongo follows the newer electionId, writes there, and ignores the stale primary")


def horizon(localhost_seed, ip_seed, ca_file):
    for seed, expected_host in [(localhost_seed, "localhost"), (ip_seed, "127.0.0.1")]:
        with pymongo.MongoClient(
            f"mongodb://{seed}/?replicaSet=rs0&tls=true",
            tlsCAFile=ca_file,
            serverSelectionTimeoutMS=5000,
        ) as client:
            client.admin.command("ping")
            wait_for("both members", lambda: len(client.nodes) == 2, 10)
            hosts = {h for h, _ in client.nodes}
            assert hosts == {expected_host}, (seed, client.nodes)
            step(f"seeded with {seed}: members known as {sorted(client.nodes)}")


{
    "unresolvable": unresolvable,
    "lb-members": lb_members,
    "sha1-only": sha1_only,
    "old-member": old_member,
    "two-primaries": two_primaries,
    "horizon": horizon,
}[scenario](*args)
print("PASS", flush=True)
