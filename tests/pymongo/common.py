"""Shared helpers for the PyMongo interoperability scripts run by tests/pymongo.rs."""
import sys
import time

from pymongo import monitoring


class Heartbeats(monitoring.ServerHeartbeatListener):
    def __init__(self):
        self.ok = []
        self.errors = []

    def started(self, event):
        pass

    def succeeded(self, event):
        self.ok.append(event)

    def failed(self, event):
        self.errors.append(event)

    def awaited_count(self):
        return sum(1 for e in self.ok if getattr(e, "awaited", False))


def step(message):
    """Progress lines go to stderr so stdout stays a clean control channel."""
    print(message, file=sys.stderr, flush=True)


def request(verb):
    """Asks the Rust test to act on the deployment, and waits for it to answer."""
    print(verb, flush=True)
    answer = sys.stdin.readline().strip()
    if answer != "done":
        raise AssertionError(f"control request {verb!r} answered {answer!r}")


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
