"""PyMongo's view of a replay (tests/replay_faithful.rs). Prints "ready" once PyMongo is
imported (which takes most of a second), then reads one line on stdin: the URI, a number of
seconds and a wall-clock time zero (µs since the Unix epoch), separated by spaces; connects
to the URI at once, and for that many seconds prints each SDAM event as a JSON line on
stdout: {"at_us": µs since time zero, "event": "server" | "removed" | "topology", "address",
"type"}. Events after that (the client closing) are not printed."""
import json
import sys
import threading
import time

from pymongo import MongoClient, monitoring

print("ready", flush=True)
uri, seconds, zero_us = sys.stdin.readline().split()
seconds, zero_us = float(seconds), int(zero_us)
lock = threading.Lock()
open_for_output = True


def emit(event, address, kind):
    at_us = int(time.time() * 1e6) - zero_us
    with lock:
        if open_for_output:
            print(json.dumps({"at_us": at_us, "event": event, "address": address, "type": kind}),
                  flush=True)


def name(address):
    host, port = address
    return f"{host}:{port}"


class Server(monitoring.ServerListener):
    def opened(self, event):
        pass

    def description_changed(self, event):
        emit("server", name(event.server_address), event.new_description.server_type_name)

    def closed(self, event):
        emit("removed", name(event.server_address), None)


class Topology(monitoring.TopologyListener):
    def opened(self, event):
        pass

    def description_changed(self, event):
        emit("topology", None, event.new_description.topology_type_name)

    def closed(self, event):
        pass


client = MongoClient(uri, event_listeners=[Server(), Topology()])
time.sleep(seconds)
with lock:
    open_for_output = False
client.close()
