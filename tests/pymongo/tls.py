"""PyMongo (Python's ssl, i.e. OpenSSL) over TLS against a simulated replica set serving
certificates the simulator generated, with MONGODB-X509.

Usage: tls.py SEED CA_FILE OTHER_CA_FILE CLIENT_PEM
Prints one line per check and "PASSED" at the end; any failure raises.
"""

import sys

import pymongo
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from common import wait_for

seed, ca_file, other_ca_file, client_pem = sys.argv[1:5]


def client(**kwargs):
    options = {"replicaSet": "rs0", "serverSelectionTimeoutMS": 3000}
    options.update(kwargs)
    return pymongo.MongoClient(f"mongodb://{seed}/", **options)


# The right CA: discovery and commands over TLS; the host name is verified.
with client(tls=True, tlsCAFile=ca_file) as verified:
    verified.admin.command("ping")
    # ping needs only the primary; the other members join the view as their own TLS
    # handshakes finish, which takes longer on a loaded machine.
    wait_for("all 3 members over TLS", lambda: len(verified.nodes) == 3, 10)
    try:
        verified.test.command("find", "c")
        raise AssertionError("find ran without authentication")
    except OperationFailure as error:
        assert error.code == 13, error.details
print("TLS with the right CA: 3 members discovered, ping answered")

# Another CA: the certificate does not verify.
with client(tls=True, tlsCAFile=other_ca_file) as wrong:
    try:
        wrong.admin.command("ping")
        raise AssertionError("a certificate from an unknown CA was accepted")
    except ServerSelectionTimeoutError as error:
        assert "certificate verify failed" in str(error), error
print("another CA refused: certificate verify failed")

# ... unless invalid certificates are allowed.
with client(tls=True, tlsCAFile=other_ca_file, tlsAllowInvalidCertificates=True) as lax:
    lax.admin.command("ping")
print("another CA with tlsAllowInvalidCertificates: ping answered")

# No TLS against a TLS server: no server is reachable.
with client() as plain:
    try:
        plain.admin.command("ping")
        raise AssertionError("a plain connection was answered")
    except ServerSelectionTimeoutError:
        pass
print("plain connection to a TLS server refused")

# MONGODB-X509 with a client certificate signed by the CA.
with client(
    tls=True,
    tlsCAFile=ca_file,
    tlsCertificateKeyFile=client_pem,
    authMechanism="MONGODB-X509",
) as x509:
    reply = x509.test.command("find", "c")
    assert reply["ok"] == 1.0, reply
print("MONGODB-X509 with the client certificate: find answered")
print("PASSED")
