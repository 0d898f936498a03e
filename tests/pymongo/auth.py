"""PyMongo authenticating against a simulated deployment with users.

Usage: auth.py HOST:PORT USER PASSWORD
Prints one line per check and "PASSED" at the end; any failure raises.
"""

import sys

import pymongo
from pymongo.errors import OperationFailure

address, user, password = sys.argv[1], sys.argv[2], sys.argv[3]


def client(**kwargs):
    return pymongo.MongoClient(
        f"mongodb://{address}/",
        directConnection=True,
        serverSelectionTimeoutMS=5000,
        **kwargs,
    )


# Unauthenticated: ping works, other commands get Unauthorized (13).
with client() as anonymous:
    anonymous.admin.command("ping")
    try:
        anonymous.test.command("find", "c")
        raise AssertionError("find ran without authentication")
    except OperationFailure as error:
        assert error.code == 13, error.details
print("unauthenticated find refused with 13")

# Each mechanism explicitly, then negotiated (SCRAM-SHA-256 expected).
for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1", None]:
    options = {"username": user, "password": password, "authSource": "admin"}
    if mechanism:
        options["authMechanism"] = mechanism
    with client(**options) as authed:
        reply = authed.test.command("find", "c")
        assert reply["ok"] == 1.0, reply
    print(f"authenticated with {mechanism or 'negotiated mechanism'}")

# A wrong password: AuthenticationFailed (18).
for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1"]:
    with client(
        username=user,
        password=password + "-wrong",
        authSource="admin",
        authMechanism=mechanism,
    ) as wrong:
        try:
            wrong.admin.command("ping")
            wrong.test.command("find", "c")
            raise AssertionError("a wrong password was accepted")
        except OperationFailure as error:
            assert error.code == 18, error.details
    print(f"wrong password refused with 18 ({mechanism})")

# An unknown user, mechanism negotiated: the same kind of error.
with client(username="nobody", password="x", authSource="admin") as unknown:
    try:
        unknown.test.command("find", "c")
        raise AssertionError("an unknown user was accepted")
    except OperationFailure as error:
        assert error.code == 18, error.details
print("unknown user refused with 18")
print("PASSED")
