"""PyMongo and a blackholed primary (run by tests/blackhole.rs inside a network namespace).

Arguments: the connection string. Control requests on stdout: "blackhole" (the test drops
every packet to and from the primary's port) and "elect" (member 1 becomes primary). Prints
"FIGURES {json}" (milliseconds since the blackhole, and the SDAM events with their times)
and "PASS".
"""
import json
import os
import sys
import threading
import time

from pymongo import MongoClient, monitoring

from common import request, step, wait_for


class Heartbeats(monitoring.ServerHeartbeatListener):
    """Logs (to stderr) each heartbeat that failed, with how long it waited."""

    def started(self, event):
        pass

    def succeeded(self, event):
        pass

    def failed(self, event):
        step(
            "%.1f heartbeat of %s:%s failed after %.1f s (awaited=%s): %s"
            % (time.monotonic(), *event.connection_id, event.duration, event.awaited, event.reply)
        )


class Events(monitoring.ServerListener, monitoring.TopologyListener):
    def __init__(self):
        self.lock = threading.Lock()
        self.events = []
        self.origin = None

    def _add(self, record):
        with self.lock:
            self.events.append((time.monotonic(), record))

    def opened(self, event):
        pass

    def closed(self, event):
        pass

    def description_changed(self, event):
        new = event.new_description
        if hasattr(event, "server_address"):
            address = "%s:%s" % event.server_address
            self._add({"event": "server", "address": address, "type": new.server_type_name})
        else:
            self._add({"event": "topology", "type": new.topology_type_name})

    def first_after(self, start, predicate):
        with self.lock:
            for at, record in self.events:
                if at >= start and predicate(record):
                    return at
        return None

    def as_json(self, start):
        with self.lock:
            return [dict(record, at_ms=round((at - start) * 1000)) for at, record in self.events]


def main():
    uri = sys.argv[1]
    events = Events()
    client = MongoClient(uri, event_listeners=[events, Heartbeats()])
    wait_for("a primary", lambda: client.primary is not None, 20)
    old_primary = "%s:%s" % client.primary
    time.sleep(0.5)
    request("blackhole")
    blackholed = time.monotonic()
    step("%.1f blackholed %s" % (blackholed, old_primary))
    wait_for(
        "PyMongo to lose the primary",
        lambda: events.first_after(
            blackholed,
            lambda r: r["event"] == "server" and r["address"] == old_primary and r["type"] == "Unknown",
        ),
        40,
    )
    noticed = time.monotonic()
    step("noticed after %.1f s" % (noticed - blackholed))
    time.sleep(1.0)
    request("elect")
    elected = time.monotonic()
    client.blackhole.probe.insert_one({"after": "blackhole"})
    written = time.monotonic()
    new_primary = "%s:%s" % client.primary
    if new_primary == old_primary:
        raise AssertionError("the write went to the blackholed primary")
    figures = {
        "noticed_ms": round((noticed - blackholed) * 1000),
        "elected_ms": round((elected - blackholed) * 1000),
        "first_write_ms": round((written - blackholed) * 1000),
        "new_primary": new_primary,
        "events": events.as_json(blackholed),
    }
    print("FIGURES " + json.dumps(figures), flush=True)
    print("PASS", flush=True)
    # The monitor of the blackholed member may hang in connect for connectTimeoutMS: do
    # not wait for it to close.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
