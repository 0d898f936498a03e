"""The side-by-side benchmark behind scripts/bench (see docs/benchmarks.md).

Starts the simulator (`mongo-topology sim`) and runs each scenario with four clients, each
a probe in its own process speaking the same line protocol (examples/bench_probe.rs):
mongo-topology, the official Rust driver, PyMongo, the Node.js driver. Repetitions are interleaved by client.
Prints one Markdown table on stdout; progress goes to stderr. Kills only the processes it
started. Exit status 0 when every cell is filled, 1 otherwise.
"""
import argparse
import json
import os
import queue
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time

CLIENTS = ["ours", "rust driver", "pymongo", "node"]
STARTED = []  # every process this harness started, to kill on the way out


class Failed(Exception):
    pass


class Process:
    """A child with piped stdin/stdout; its stdout lines are read on a thread."""

    def __init__(self, argv, name):
        self.name = name
        try:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL if name == "sim" else None,
                text=True,
                bufsize=1,
            )
        except OSError as error:  # e.g. a probe that was not built
            raise Failed(f"{name}: cannot start {argv[0]}: {error}") from None
        STARTED.append(self.popen)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.popen.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    @property
    def pid(self):
        return self.popen.pid

    def send(self, line):
        try:
            self.popen.stdin.write(line + "\n")
            self.popen.stdin.flush()
        except OSError as error:  # the process has gone
            raise Failed(f"{self.name}: cannot send {line!r}: {error}") from None

    def read(self, timeout):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise Failed(f"{self.name}: no answer within {timeout} s") from None
        if line is None:
            raise Failed(f"{self.name}: exited with {self.popen.wait()}")
        return line

    def ask(self, line, timeout):
        self.send(line)
        return self.read(timeout)

    def stop(self):
        """Closes stdin (the sim and the probes then exit); kills after 3 s."""
        try:
            self.popen.stdin.close()
        except OSError:
            pass
        try:
            self.popen.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        STARTED.remove(self.popen)


def kill_started():
    for popen in list(STARTED):
        if popen.poll() is None:
            popen.kill()
            popen.wait()
    STARTED.clear()


class Sim:
    def __init__(self, paths, args):
        self.process = Process([paths.mongo, "sim", "--port", "0", "--reply-times", *args], "sim")
        self.uri = self.process.read(300)
        if not self.uri.startswith("mongodb://"):
            raise Failed(f"the simulator said {self.uri!r}")
        self.hosts = self.uri[len("mongodb://"):].split("/")[0].split(",")

    def control(self, line):
        """Sends a control line; the UNIX time in µs the simulator took before applying it."""
        reply = self.process.ask(line, 30)
        if not reply.startswith("ok"):
            raise Failed(f"sim: {line!r} answered {reply!r}")
        return int(reply.rsplit("at=", 1)[1])

    def stop(self):
        self.process.stop()


def probe(paths, client, *args):
    argv = {
        "ours": [paths.ours_probe],
        "rust driver": [paths.driver_probe],
        "pymongo": [paths.python, paths.pymongo_probe],
        "node": [paths.node, paths.node_probe],
    }[client]
    return Process([*argv, *map(str, args)], client)


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise Failed(f"no {field} in /proc/{pid}/status")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Row:
    """One measured quantity: samples per client, or a reason a client has none."""

    def __init__(self, name, unit, lower_is_better=True):
        self.name, self.unit, self.lower_is_better = name, unit, lower_is_better
        self.samples = {client: [] for client in CLIENTS}
        self.missing = {}

    def cell(self, client):
        samples = self.samples[client]
        if not samples:
            return self.missing.get(client, "FAILED: no sample")
        fmt = {"ms": "{:.2f}", "MiB": "{:.1f}", "%": "{:.2f}", "": "{:.0f}", "/s": "{:,.0f}"}[self.unit]
        unit = f" {self.unit}" if self.unit else ""
        median = fmt.format(statistics.median(samples))
        if len(samples) == 1:
            return median + unit
        return f"{median}{unit} ({fmt.format(min(samples))}–{fmt.format(max(samples))})"

    def ratio(self):
        ours = self.samples["ours"]
        peers = [statistics.median(self.samples[c]) for c in CLIENTS[1:] if self.samples[c]]
        if not ours or not peers:
            return "n/a"
        best = min(peers) if self.lower_is_better else max(peers)
        return f"{statistics.median(ours) / best:.2f}×" if best > 0 else "n/a"

    def filled(self):
        """Every client has samples (or n/a for this row, or a peer did not finish in time), and
        no sample failed."""
        failed = any(reason.startswith("FAILED") for reason in self.missing.values())
        return not failed and all(
            self.samples[c] or self.missing.get(c, "").startswith(("n/a", "did not finish"))
            for c in CLIENTS
        )


def run_sample(row_list, client, action):
    """Runs one sample; a failure marks the client's cells in `row_list` failed."""
    try:
        action()
    except Failed as error:
        print(f"  {client}: FAILED: {error}", file=sys.stderr)
        for row in row_list:
            row.missing[client] = f"FAILED: {error}"[:80]


def discovery(paths, options):
    rows = []
    for latency in (0, 5):
        for members in (3, 7):
            label = f"discovery, {members} members, {latency} ms, secondary seed"
            known = Row(f"{label}: all known (limit 2d)", "ms")
            ping = Row(f"{label}: first ping on the primary (limit 3–4d)", "ms")
            sim = Sim(paths, ["--members", str(members)])
            try:
                for index in range(members):
                    sim.control(f"latency {index} {latency}")
                seed = f"mongodb://{sim.hosts[1]}/?replicaSet=rs0"
                for _ in range(options.runs):
                    for client in CLIENTS:
                        def sample():
                            p = probe(paths, client, "discovery", seed, members)
                            try:
                                figures = json.loads(p.read(60))
                            finally:
                                p.stop()
                            known.samples[client].append(figures["known_ms"])
                            ping.samples[client].append(figures["ping_ms"])
                        run_sample([known, ping], client, sample)
            finally:
                sim.stop()
            rows += [known, ping]
            print(f"done: {label}", file=sys.stderr)
    return rows


def failover(paths, options, mode):
    view = Row(f"failover, {mode}: elect → view shows the new primary", "ms")
    insert = Row(f"failover, {mode}: elect → first insert acknowledged (inserts every 10 ms)", "ms")
    sim = Sim(paths, ["--members", "3"])
    primary = 0
    stepped_down = False  # a failed sample must not leave the next client without a primary
    try:
        uri = f"{sim.uri}&serverMonitoringMode={mode}"
        for _ in range(options.runs):
            for client in CLIENTS:
                def sample():
                    nonlocal primary, stepped_down
                    if stepped_down:
                        sim.control(f"elect {primary}")
                        stepped_down = False
                    p = probe(paths, client, "failover", uri)
                    try:
                        if p.read(60) != "ready":
                            raise Failed("the probe did not say ready")
                        # One discarded failover, then the measured one.
                        for cycle in range(2):
                            sim.control("stepdown")
                            stepped_down = True
                            if p.ask("noprimary", 30) != "ok":
                                raise Failed("the probe did not see the stepdown")
                            time.sleep(0.030)
                            primary = (primary + 1) % 3
                            at = sim.control(f"elect {primary}")
                            stepped_down = False
                            figures = json.loads(p.ask(f"elected {at} {sim.hosts[primary]}", 30))
                        view.samples[client].append(figures["view_ms"])
                        insert.samples[client].append(figures["insert_ms"])
                    finally:
                        p.stop()
                run_sample([view, insert], client, sample)
    finally:
        sim.stop()
    print(f"done: failover, {mode}", file=sys.stderr)
    return [view, insert]


def scale(paths, options):
    count = 100 if options.quick else 1000
    idle = 5 if options.quick else 60
    label = f"scale, {count:,} mongos, default heartbeat"
    known = Row(f"{label}: all known", "ms")
    rss = Row(f"{label}: VmRSS after {idle} s idle", "MiB")
    threads = Row(f"{label}: threads", "")
    cpu = Row(f"{label}: CPU over {idle} s idle (% of a core)", "%")
    sim = Sim(paths, ["--mongos", str(count)])
    try:
        for run in range(options.runs):
            for client in CLIENTS:
                def sample():
                    p = probe(paths, client, "scale", sim.uri, count)
                    try:
                        known.samples[client].append(json.loads(p.read(180))["known_ms"])
                        if run == 0:  # the idle window once per client: 60 s each
                            before, started = cpu_seconds(p.pid), time.monotonic()
                            time.sleep(idle)
                            busy = cpu_seconds(p.pid) - before
                            cpu.samples[client].append(100 * busy / (time.monotonic() - started))
                            rss.samples[client].append(proc_status(p.pid, "VmRSS") / 1024)
                            threads.samples[client].append(proc_status(p.pid, "Threads"))
                    finally:
                        p.stop()
                run_sample([known, rss, threads, cpu], client, sample)
    finally:
        sim.stop()
    print(f"done: {label}", file=sys.stderr)
    return [known, rss, threads, cpu]


# The fleet rows (--fleet): (scenario, monitoring mode, mongos, simulator processes). One
# client holds one monitoring connection per mongos polling and two streaming, under the
# machine's open-file limit of 20,000: 10,000 polling, 9,000 streaming. The simulator's side
# (a listener and the client's connections per mongos) is spread over 4 processes.
FLEETS = {
    "fleet-poll": ("poll", 10_000, 4),
    "fleet-stream": ("stream", 9_000, 4),
}
QUICK_FLEET = 500  # mongos per fleet row with --quick
FLEET_CLIENTS = ("ours", "rust driver", "node")  # PyMongo: two threads per server


def fleet(paths, options, scenario):
    mode, count, processes = FLEETS[scenario]
    if options.quick:
        count = QUICK_FLEET
    idle = 5 if options.quick else options.fleet_idle
    timeout = options.fleet_timeout
    label = f"fleet, {count:,} mongos, default heartbeat, {mode}"
    if options.fleet_runtime == "current-thread":
        label += ", one-thread runtime (Rust clients)"
    known = Row(f"{label}: all known", "ms")
    rss = Row(f"{label}: VmRSS after {idle} s idle", "MiB")
    threads = Row(f"{label}: threads", "")
    cpu = Row(f"{label}: CPU over {idle} s idle (% of a core)", "%")
    rows = [known, rss, threads, cpu]
    for row in rows:
        row.missing["pymongo"] = f"n/a — two threads per server ({2 * count:,})"
    directory = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench-fleet-{os.getpid()}")
    os.makedirs(directory, exist_ok=True)
    written = os.path.join(directory, "uri")
    # The string names every mongos: past the 128 KiB limit of one argument, so it reaches
    # the probes in a file (`@PATH`).
    sim = Sim(paths, ["--mongos", str(count), "--processes", str(processes),
                      "--uri-file-out", written])
    uri_file = os.path.join(directory, f"uri-{mode}")
    with open(uri_file, "w") as out:
        out.write(f"{sim.uri}?serverMonitoringMode={mode}\n")
    try:
        for client in FLEET_CLIENTS:
            if client not in options.fleet_clients:
                for row in rows:
                    row.missing[client] = "n/a — not run (--fleet-clients)"
                continue

            def sample():
                p = probe(paths, client, "scale", "@" + uri_file, count)
                try:
                    try:
                        line = p.read(timeout)
                    except Failed as error:
                        if "no answer within" not in str(error):
                            raise
                        # A peer that does not finish is a result; ours, a failure.
                        verdict = f"did not finish in {timeout} s"
                        if client == "ours":
                            verdict = f"FAILED: {verdict}"
                        for row in rows:
                            row.missing[client] = verdict
                        print(f"  {client}: did not finish in {timeout} s", file=sys.stderr)
                        return
                    known.samples[client].append(json.loads(line)["known_ms"])
                    before, started = cpu_seconds(p.pid), time.monotonic()
                    time.sleep(idle)
                    busy = cpu_seconds(p.pid) - before
                    cpu.samples[client].append(100 * busy / (time.monotonic() - started))
                    rss.samples[client].append(proc_status(p.pid, "VmRSS") / 1024)
                    threads.samples[client].append(proc_status(p.pid, "Threads"))
                finally:
                    p.stop()
            # Each sample is a new client; its idle window falls where the heartbeats' bursts
            # happen to fall, and runs of one build differ by ±15 % here: --fleet-runs N
            # reports the median of N.
            for _ in range(options.fleet_runs):
                run_sample(rows, client, sample)
                if client in known.missing:
                    break
            print(f"  {client}: {known.cell(client)}, {rss.cell(client)}, {cpu.cell(client)}",
                  file=sys.stderr)
    finally:
        sim.stop()
        for name in (written, uri_file):
            if os.path.exists(name):
                os.remove(name)
        os.rmdir(directory)
    print(f"done: {label}", file=sys.stderr)
    return rows


def selection(paths, options):
    row = Row("selection, 7 members, primary: selections/s on one core", "/s", lower_is_better=False)
    for client in CLIENTS[1:]:
        row.missing[client] = "n/a — no public API"
    sim = Sim(paths, ["--members", "7"])
    try:
        for _ in range(options.runs):
            def sample():
                p = probe(paths, "ours", "selection", sim.uri, 7, 0.5 if options.quick else 2)
                try:
                    row.samples["ours"].append(json.loads(p.read(60))["per_s"])
                finally:
                    p.stop()
            run_sample([row], "ours", sample)
    finally:
        sim.stop()
    print("done: selection", file=sys.stderr)
    return [row]


def table(rows):
    lines = [
        "| scenario | ours median (min–max) | Rust driver median (min–max) "
        "| PyMongo median (min–max) | Node.js driver median (min–max) | ours / best peer |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row.cell(c) for c in CLIENTS]
        lines.append(f"| {row.name} | {' | '.join(cells)} | {row.ratio()} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--only", help="comma-separated scenarios (default: all but the fleets)")
    parser.add_argument("--fleet", action="store_true",
                        help="add the fleet rows (10,000 mongos polling, 9,000 streaming)")
    parser.add_argument("--fleet-idle", type=int, default=60,
                        help="idle window of the fleet rows, seconds (default 60)")
    parser.add_argument("--fleet-clients", default="ours,rust driver,node",
                        help="comma-separated clients of the fleet rows (default: "
                             "ours,rust driver,node), e.g. `ours` to rerun our figures alone")
    parser.add_argument("--fleet-runs", type=int, default=1,
                        help="samples per client of each fleet row, the median reported (default 1)")
    parser.add_argument("--fleet-runtime", choices=("multi-thread", "current-thread"),
                        default="multi-thread",
                        help="the tokio runtime of the Rust probes in the fleet rows (default: "
                             "tokio's default, a worker per core)")
    parser.add_argument("--fleet-timeout", type=int, default=300,
                        help="how long a client may take to know a fleet, seconds (default 300)")
    for path in ("mongo", "ours-probe", "driver-probe", "python", "pymongo-probe", "node",
                 "node-probe", "node-dir"):
        parser.add_argument(f"--{path}", required=True)
    options = parser.parse_args()
    options.runs = options.runs or (1 if options.quick else 5)
    options.fleet_clients = options.fleet_clients.split(",")
    unknown = [c for c in options.fleet_clients if c not in FLEET_CLIENTS]
    if unknown:
        parser.error(f"--fleet-clients: unknown {unknown}; choose among {list(FLEET_CLIENTS)}")
    paths = argparse.Namespace(
        mongo=options.mongo,
        ours_probe=options.ours_probe,
        driver_probe=options.driver_probe,
        python=options.python,
        pymongo_probe=options.pymongo_probe,
        node=options.node,
        node_probe=options.node_probe,
    )
    os.environ["MONGO_TOPOLOGY_NODE_DIR"] = options.node_dir  # where the probe loads the driver
    os.environ["BENCH_PROBE_RUNTIME"] = options.fleet_runtime  # the Rust probes' `scale`
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scenarios = {
        "discovery": lambda: discovery(paths, options),
        "failover-stream": lambda: failover(paths, options, "stream"),
        "failover-poll": lambda: failover(paths, options, "poll"),
        "scale": lambda: scale(paths, options),
        "selection": lambda: selection(paths, options),
    }
    default = list(scenarios)
    for name in FLEETS:
        scenarios[name] = lambda name=name: fleet(paths, options, name)
        if options.fleet:
            default.append(name)
    only = options.only.split(",") if options.only else default
    unknown = [name for name in only if name not in scenarios]
    if unknown:
        parser.error(f"--only: unknown scenario(s) {unknown}; choose among {list(scenarios)}")
    try:
        rows = []
        for name in only:
            rows += scenarios[name]()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        kill_started()
    print(table(rows))
    return 0 if all(row.filled() for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
