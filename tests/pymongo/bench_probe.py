"""PyMongo's probe for scripts/bench: the same arguments, line protocol and definitions as
mongo-topology's probe (examples/bench_probe.rs, whose documentation describes them). The
client's view is read by polling its public `topology_description` (see `Watcher`). PyMongo has no public server
selection API, so there is no `selection` scenario here.
"""
import json
import sys
import threading
import time

from pymongo import MongoClient
from pymongo.server_type import SERVER_TYPE


def all_known(description, count):
    servers = description.server_descriptions()
    return len(servers) == count and all(
        s.server_type != SERVER_TYPE.Unknown for s in servers.values()
    )


def primary_of(description):
    primaries = [
        f"{host}:{port}"
        for (host, port), s in description.server_descriptions().items()
        if s.server_type == SERVER_TYPE.RSPrimary
    ]
    return primaries[0] if len(primaries) == 1 else None


def unix_micros():
    return time.time_ns() // 1000


class Watcher(threading.Thread):
    """Calls `on_description` with the client's topology description every `interval`
    seconds. PyMongo hands SDAM events (TopologyListener, ServerListener) to listeners
    through a queue drained once a second (pymongo.common.EVENTS_QUEUE_FREQUENCY), so an
    event's arrival says nothing about when the view changed; the public
    `MongoClient.topology_description` does."""

    def __init__(self, client, on_description, interval):
        super().__init__(daemon=True)
        self.client, self.on_description, self.interval = client, on_description, interval
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            self.on_description(self.client.topology_description)
            time.sleep(self.interval)


def watched_client(uri, on_description, interval=0.0002):
    c = MongoClient(uri)
    watcher = Watcher(c, on_description, interval)
    watcher.start()
    return c, watcher


def say(line):
    print(line, flush=True)


def discovery(uri, members):
    figures = None
    for _warm_up_then_measured in range(2):
        known = []
        started = time.perf_counter()

        def on_description(description):
            if not known and all_known(description, members):
                known.append(time.perf_counter())

        c, watcher = watched_client(uri, on_description)
        c.admin.command("ping")
        pinged = time.perf_counter()
        while not known:
            time.sleep(0.0002)
        figures = ((known[0] - started) * 1e3, (pinged - started) * 1e3)
        watcher.stopped.set()
        c.close()
    say(json.dumps({"known_ms": figures[0], "ping_ms": figures[1]}))


def failover(uri):
    lock = threading.Lock()
    state = {"primaries": [], "inserts": [], "current": None, "all_known": False}

    def on_description(description):
        now = primary_of(description)
        with lock:
            state["all_known"] = all_known(description, 3)
            if now != state["current"]:
                if now is not None:
                    state["primaries"].append((now, unix_micros()))
                state["current"] = now

    c, _watcher = watched_client(uri, on_description)

    def wait_until(condition):
        while True:
            with lock:
                if condition():
                    return
            time.sleep(0.0005)

    wait_until(lambda: state["all_known"] and state["current"] is not None)
    collection = c.test.bench

    def insert_every_10_ms():
        sequence = 0
        while True:
            sequence += 1
            try:
                collection.insert_one({"_id": sequence})
            except Exception:  # noqa: BLE001 - retried at once, as the scenario says
                continue
            with lock:
                state["inserts"].append(unix_micros())
            time.sleep(0.010)

    threading.Thread(target=insert_every_10_ms, daemon=True).start()
    say("ready")
    for line in sys.stdin:
        words = line.split()
        if words == ["noprimary"]:
            wait_until(lambda: state["current"] is None)
            say("ok")
        elif len(words) == 3 and words[0] == "elected":
            at, address = int(words[1]), words[2]

            def first():
                view = next((w for p, w in state["primaries"] if p == address and w >= at), None)
                insert = next((w for w in state["inserts"] if w >= at), None)
                return (view, insert) if view is not None and insert is not None else None

            wait_until(lambda: first() is not None)
            with lock:
                view, insert = first()
            say(json.dumps({"view_ms": (view - at) / 1e3, "insert_ms": (insert - at) / 1e3}))
        else:
            raise SystemExit(f"unknown control line {line!r}")


def scale(uri, count):
    known = []
    started = time.perf_counter()

    def on_description(description):
        if not known and all_known(description, count):
            known.append(time.perf_counter())

    # Checking 1,000 servers takes time: every millisecond during discovery only.
    c, watcher = watched_client(uri, on_description, interval=0.001)
    while not known:
        time.sleep(0.0005)
    watcher.stopped.set()
    say(json.dumps({"known_ms": (known[0] - started) * 1e3}))
    for _ in sys.stdin:
        pass
    c.close()


def main():
    scenario, uri = sys.argv[1], sys.argv[2]
    if scenario == "discovery":
        discovery(uri, int(sys.argv[3]))
    elif scenario == "failover":
        failover(uri)
    elif scenario == "scale":
        scale(uri, int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown scenario {scenario!r} (no selection: no public API)")


if __name__ == "__main__":
    main()
