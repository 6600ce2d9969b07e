#!/usr/bin/env python3
"""zot-server against the Debian ``docker-registry`` (CNCF distribution), side by side.

    python3 scripts/side_by_side.py                 # the full run, a few minutes on 2 cores
    python3 scripts/side_by_side.py --quick         # tiny sizes: checks the machinery
    python3 scripts/side_by_side.py --json out.json # every figure of every round, as JSON

Both servers run on loopback, on free ports, with their roots in one temporary directory (one
filesystem), pinned to the same CPUs (``taskset``; ``GOMAXPROCS`` for distribution and as many
gunicorn workers for zot-server). Rounds alternate A B A B; each figure is the median of the
rounds, printed with the ratio zot-server / distribution and the physical bound measured in the
same run (a plain sequential write of the same size, ``sendfile`` of the same file). Each 1 GiB
push is also compared with a write+fsync of the same size taken just before it, since this
virtual disk's rate moves by 2-3x from one minute to the next.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zot_server.bench.client import BLOCK, Client  # noqa: E402
from zot_server.bench.layers import (  # noqa: E402
    Layer,
    image_manifest,
    make_layer,
    parse_size,
    random_config,
)
from zot_server.bench.runner import Bench, Options  # noqa: E402
from zot_server.bench.suite import Test  # noqa: E402
from zot_server.bench.workflows import (  # noqa: E402
    MANIFEST,
    OCTETS,
    push_image,
    put_monolith,
)
from zot_server.testing import free_port  # noqa: E402

DIST_CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


# -- servers ---------------------------------------------------------------------------------
@dataclass
class Server:
    kind: str  # "zot-server" or "distribution"
    root: Path
    cpus: str
    workers: int
    port: int = 0
    process: subprocess.Popen | None = None
    startup: float = 0.0
    log: Path | None = None
    config: dict | None = None  # zot-server: a zot config file's other keys (storage.commit)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        if self.kind == "zot-server":
            cmd = [
                sys.executable, "-m", "zot_server", "serve", "--root", str(self.root),
                "--address", "127.0.0.1", "--port", str(self.port),
                "--workers", str(self.workers),
            ]  # fmt: skip
            env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
            if self.config is not None:
                path = self.root.parent / f"{self.root.name}.json"
                storage = {"rootDirectory": str(self.root), **self.config.get("storage", {})}
                path.write_text(json.dumps({**self.config, "storage": storage}))
                cmd += ["--config", str(path)]
        else:
            config = self.root.parent / f"{self.root.name}.yml"
            config.write_text(DIST_CONFIG.format(root=self.root, port=self.port))
            cmd = ["docker-registry", "serve", str(config)]
            env["GOMAXPROCS"] = str(self.workers)
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", self.cpus, *cmd]
        return cmd, env

    def start(self, timeout: float = 30.0) -> float:
        """Start and return the seconds from process start to the first 200 on ``/v2/``."""
        self.port = free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        cmd, env = self.command()
        self.log = self.root.parent / f"{self.kind}-{self.port}.log"
        started = time.perf_counter()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=1) as reply:
                    if reply.status == 200:
                        self.startup = time.perf_counter() - started
                        return self.startup
            except OSError:
                pass
            time.sleep(0.005)
        self.stop()
        raise TimeoutError(f"{self.kind} did not answer within {timeout} s")

    def worker_pids(self) -> list[int]:
        """gunicorn's workers (children of the master; taskset execs in place), or the process."""
        if self.process is None:
            return []
        return _children(self.process.pid) or [self.process.pid]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 15)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Peak resident memory of each process of a server, sampled every 20 ms from /proc."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for pid in self.server.worker_pids():
                self.peak[pid] = max(self.peak.get(pid, 0), rss_kib(pid))

    def peak_mib(self) -> float:
        return max(self.peak.values(), default=0) / 1024


# -- physical bounds ---------------------------------------------------------------------------
def sequential_write(path: Path, size: int, fsync: bool) -> float:
    """MB/s of writing ``size`` bytes in 1 MiB blocks (and one fsync), as a server stores a blob."""
    block = os.urandom(BLOCK)
    started = time.perf_counter()
    with open(path, "wb") as f:
        remaining = size
        while remaining > 0:
            remaining -= f.write(block[: min(BLOCK, remaining)])
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    seconds = time.perf_counter() - started
    path.unlink()
    return size / (1 << 20) / seconds


def sendfile_rate(path: Path, size: int) -> float:
    """MB/s of ``os.sendfile`` to a loopback socket drained like the benchmark client drains."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received = [0]

    def drain() -> None:
        conn, _ = listener.accept()
        buffer = bytearray(BLOCK)
        with conn:
            while True:
                n = conn.recv_into(buffer)
                if not n:
                    return
                received[0] += n

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with socket.create_connection(("127.0.0.1", port)) as out, open(path, "rb") as f:
        started = time.perf_counter()
        offset = 0
        while offset < size:
            sent = os.sendfile(out.fileno(), f.fileno(), offset, size - offset)
            if not sent:
                break
            offset += sent
    reader.join(timeout=60)
    seconds = time.perf_counter() - started
    listener.close()
    return received[0] / (1 << 20) / seconds


# -- measurements -----------------------------------------------------------------------------
@dataclass
class Round:
    kind: str
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def adjacent_bound(server: Server, layer: Layer, out: Round, push: str) -> float:
    """write+fsync of the same size on the same filesystem right before a push.

    This virtual disk's write+fsync rate moved between 266 and 778 MB/s from one minute to
    the next (measured back to back), so a push is also compared with a bound taken just
    before it, besides the one at the start of the run."""
    bound = sequential_write(server.root.parent / f"seq-{server.kind}", layer.size, True)
    out.figures[f"write+fsync before {push} MB/s"] = bound
    return bound


def big_transfers(server: Server, layer: Layer, out: Round) -> None:
    """1 GiB (or --big) blob: monolithic PUT, streamed PATCH + PUT, GET; peak RSS meanwhile."""
    client = Client(server.url, timeout=600)
    mib = layer.size / (1 << 20)
    bound = adjacent_bound(server, layer, out, "monolithic")
    with RssSampler(server) as rss:
        repo = f"big/{server.kind}-{time.monotonic_ns()}"
        started = time.perf_counter()
        put_monolith(client, repo, None, layer)
        rate = mib / (time.perf_counter() - started)
        out.figures["blob push monolithic MB/s"] = rate
        out.figures["blob push monolithic / adjacent write+fsync"] = rate / bound
        client.request("DELETE", f"/v2/{repo}/blobs/{layer.digest}")

        repo2 = repo + "-s"
        reply = client.request("POST", f"/v2/{repo2}/blobs/uploads/")
        location = reply.headers["Location"]
        bound = adjacent_bound(server, layer, out, "streamed")
        started = time.perf_counter()
        with open(layer.path, "rb") as body:
            reply = client.request(
                "PATCH", location, body, {"Content-Type": OCTETS, "Content-Length": str(layer.size)}
            )
        location = reply.headers.get("Location", location)
        sep = "&" if "?" in location else "?"
        reply = client.request("PUT", f"{location}{sep}digest={layer.digest}", b"")
        if reply.status != 201:
            out.notes.append(f"streamed push answered {reply.status}")
        rate = mib / (time.perf_counter() - started)
        out.figures["blob push streamed MB/s"] = rate
        out.figures["blob push streamed / adjacent write+fsync"] = rate / bound

        pulls = []
        for _ in range(2):  # the first GET may still read from disk; keep the better one
            started = time.perf_counter()
            reply = client.request("GET", f"/v2/{repo2}/blobs/{layer.digest}", keep=False)
            pulls.append(mib / (time.perf_counter() - started))
            if reply.size != layer.size:
                out.notes.append(f"pull returned {reply.size} of {layer.size} bytes")
        out.figures["blob pull MB/s"] = max(pulls)
        client.request("DELETE", f"/v2/{repo2}/blobs/{layer.digest}")
    out.figures["peak RSS per worker MiB"] = rss.peak_mib()
    client.close()


def hey_rps(url: str, method: str, requests: int) -> tuple[float, dict[str, int]]:
    """requests/s of ``hey`` at concurrency 16, and its status histogram.

    hey sends ``Content-Type: text/html`` unless told otherwise; both servers get the manifest
    type, as zb sends it.
    """
    result = subprocess.run(
        [
            "hey",
            "-n",
            str(requests),
            "-c",
            "16",
            "-m",
            method,
            "-T",
            MANIFEST,
            "-H",
            f"Accept: {MANIFEST}",
            url,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    statuses = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", result.stdout))
    return (float(match.group(1)) if match else 0.0), {k: int(v) for k, v in statuses.items()}


def manifest_rates(server: Server, requests: int, out: Round) -> None:
    client = Client(server.url)
    image = push_image(client, "hey", make_layer_cached(server.root.parent, 1024), False, "latest")
    client.close()
    where = f"{server.url}/v2/{image.repo}/manifests/latest"
    for method in ("HEAD", "GET"):
        rps, statuses = hey_rps(where, method, requests)
        out.figures[f"manifest {method} c16 req/s"] = rps
        if set(statuses) != {"200"}:
            out.notes.append(f"hey {method} on {server.kind}: statuses {statuses}")


_layers: dict[tuple[str, int], Layer] = {}


def make_layer_cached(workdir: Path, size: int) -> Layer:
    key = (str(workdir), size)
    if key not in _layers:
        _layers[key] = make_layer(str(workdir), size)
    return _layers[key]


def zb_figures(server: Server, tests: list[Test], requests: int, concurrency: int, out: Round):
    options = Options(
        url=server.url, concurrency=concurrency, requests=requests, progress=False, time_limit=120
    )
    bench = Bench(options, workdir=str(server.root.parent / "zb-layers"))
    Path(bench.workdir).mkdir(exist_ok=True)
    for test in tests:
        result = bench.run(test)
        out.figures[f"zb {test.name} c{concurrency} req/s"] = result.rps
        if result.errors:
            out.notes.append(f"{test.name}: {result.errors} errors {result.error_samples[:1]}")


def no_commit_figure(server: Server, test: Test, args, out: Round) -> None:
    """zb Push Monolith 1MB against zot-server with ``storage.commit: false`` (no fsync)."""
    server.start()
    try:
        probe = Round("zot-server")
        zb_figures(server, [test], args.zb_requests, args.concurrency, probe)
    finally:
        server.stop()
        os.sync()
    for name, value in probe.figures.items():
        out.figures[f"{name}, storage.commit false"] = value
    out.notes.extend(probe.notes)


def seed_catalog(server: Server, count: int) -> None:
    """Push one image, then give it ``count`` names by hard-linking its repository directory.

    Both servers read repositories from their filesystem, so this is what ``count`` pushes
    would leave behind, made in seconds instead of minutes.
    """
    client = Client(server.url)
    layer = make_layer_cached(server.root.parent, 512)
    repo = "catalog-seed/origin"
    config, config_digest = random_config()
    put_monolith(client, repo, None, layer)
    put_monolith(client, repo, config)
    reply = client.request(
        "PUT",
        f"/v2/{repo}/manifests/v1",
        image_manifest(config, config_digest, layer),
        {"Content-Type": MANIFEST},
    )
    client.close()
    if reply.status != 201:
        raise RuntimeError(f"seeding the catalog: HTTP {reply.status}")
    if server.kind == "zot-server":
        base = server.root
    else:
        base = server.root / "docker" / "registry" / "v2" / "repositories"
    source = base / "catalog-seed" / "origin"
    for i in range(count - 1):
        shutil.copytree(source, base / "catalog-seed" / f"r{i:05d}", copy_function=os.link)


def catalog_time(server: Server, out: Round) -> None:
    """Seconds to list the whole catalog (1,000 per page, following ``Link``), best of 3."""
    client = Client(server.url)
    times, counts = [], []
    for _ in range(3):
        started = time.perf_counter()
        target, names = "/v2/_catalog?n=1000", 0
        while target:
            reply = client.request("GET", target)
            if reply.status != 200:
                out.notes.append(f"catalog answered {reply.status}")
                break
            names += len(json.loads(reply.body or b"{}").get("repositories") or [])
            link = reply.headers.get("Link")
            match = re.search(r"<([^>]+)>", link or "")
            target = match.group(1) if match else None
        times.append(time.perf_counter() - started)
        counts.append(names)
    client.close()
    out.figures["catalog listing s"] = min(times)
    out.figures["catalog repositories"] = counts[-1]


# -- the run -----------------------------------------------------------------------------------
TARGETS = {
    # figure: (minimum ratio zot/distribution, or None; lower is better?)
    "blob push monolithic MB/s": (1.0, False),
    "blob push streamed MB/s": (1.0, False),
    "blob pull MB/s": (1.0, False),
    "zb Push Monolith 1MB c10 req/s": (1.0, False),
    "zb Pull 1MB c10 req/s": (1.0, False),
    "manifest HEAD c16 req/s": (1.5, False),
    "manifest GET c16 req/s": (1.5, False),
    "peak RSS per worker MiB": (None, True),
    "start-up to first 200 s": (None, True),
    "catalog listing s": (None, True),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=2, help="A B rounds (default 2: A B A B)")
    p.add_argument("--big", default="1GiB", help="size of the big blob (default 1GiB)")
    p.add_argument("--zb-requests", type=int, default=100, help="-n of the zb tests")
    p.add_argument("--concurrency", type=int, default=10, help="-c of the zb tests")
    p.add_argument("--hey-requests", type=int, default=4000)
    p.add_argument("--catalog", type=int, default=10000, help="repositories for _catalog")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="core budget of each")
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check the machinery")
    p.add_argument("--json", dest="json_path", help="write all rounds and the summary here")
    p.add_argument("--only", choices=["zot-server", "distribution"], help="run one server only")
    args = p.parse_args(argv)
    if args.quick:
        args.big, args.zb_requests, args.hey_requests, args.catalog = "4MiB", 10, 200, 50
        args.rounds = 1
    big = parse_size(args.big)
    cpus = f"0-{args.cores - 1}"
    kinds = [args.only] if args.only else ["zot-server", "distribution"]
    if "distribution" in kinds and not shutil.which("docker-registry"):
        print("docker-registry is not installed (apt-get install docker-registry)", file=sys.stderr)
        return 2
    one_mb = 1 << 20
    zb_tests = [
        Test("Push Monolith 1MB", "push", (one_mb,)),
        Test("Pull 1MB", "pull", (one_mb,)),
    ]

    with tempfile.TemporaryDirectory(prefix="side-by-side-") as tmp:
        work = Path(tmp)
        layer = make_layer(str(work), big)
        bounds = {
            "sequential write MB/s (fsync)": sequential_write(work / "seq", big, True),
            "sequential write MB/s (page cache)": sequential_write(work / "seq", big, False),
            "sendfile MB/s": max(sendfile_rate(Path(layer.path), big) for _ in range(2)),
        }
        load = os.getloadavg()
        servers = {
            kind: Server(kind, work / kind.replace("-", "_"), cpus, args.cores) for kind in kinds
        }
        if "zot-server" in kinds:
            servers["no-commit"] = Server(
                "zot-server", work / "zot_no_commit", cpus, args.cores,
                config={"storage": {"commit": False}},
            )  # fmt: skip
        for kind in kinds:
            server = servers[kind]
            server.start()
            seed_catalog(server, args.catalog)
            server.stop()
        os.sync()  # the seeding's writes are on disk before the first round
        rounds: list[Round] = []
        for number in range(args.rounds):
            for kind in kinds:
                server = servers[kind]
                out = Round(kind)
                print(f"round {number + 1}: {kind}", file=sys.stderr, flush=True)
                if kind == "zot-server":  # like for like: distribution fsyncs nothing
                    no_commit_figure(servers["no-commit"], zb_tests[0], args, out)
                out.figures["start-up to first 200 s"] = server.start()
                try:
                    zb_figures(server, zb_tests, args.zb_requests, args.concurrency, out)
                    manifest_rates(server, args.hey_requests, out)
                    catalog_time(server, out)
                    big_transfers(server, layer, out)
                finally:
                    server.stop()
                    # distribution acknowledges pushes before they are on disk: without this,
                    # the next server's round pays for flushing them (measured: zot-server's
                    # round after distribution's was slower on every figure, start-up 1.4 s).
                    os.sync()
                rounds.append(out)
        summary = summarize(rounds, kinds, bounds)
        print_report(summary, bounds, load, args, kinds)
        if args.json_path:
            with open(args.json_path, "w") as f:
                json.dump(
                    {
                        "bounds": bounds,
                        "load": load,
                        "rounds": [r.__dict__ for r in rounds],
                        "summary": summary,
                    },
                    f,
                    indent=1,
                )
    notes = [n for r in rounds for n in r.notes]
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 1 if notes else 0


def summarize(rounds: list[Round], kinds: list[str], bounds: dict[str, float]) -> dict:
    names = list(dict.fromkeys(name for r in rounds for name in r.figures))
    summary: dict[str, dict] = {}
    for name in names:
        row: dict = {}
        for kind in kinds:
            values = [r.figures[name] for r in rounds if r.kind == kind and name in r.figures]
            row[kind] = statistics.median(values) if values else None
            row[f"{kind} rounds"] = values
        zot, dist = row.get("zot-server"), row.get("distribution")
        if name.endswith(", storage.commit false"):  # against distribution's own figure
            base = name.removesuffix(", storage.commit false")
            values = [
                r.figures[base] for r in rounds if r.kind == "distribution" and base in r.figures
            ]
            dist = statistics.median(values) if values else None
        row["ratio"] = zot / dist if zot is not None and dist else None
        summary[name] = row
    return summary


def _target(name: str, row: dict, bounds: dict[str, float]) -> str:
    zot, ratio = row.get("zot-server"), row.get("ratio")
    checks = []
    minimum, _ = TARGETS.get(name, (None, False))
    if minimum is not None and ratio is not None:
        checks.append(f">= {minimum}x: {'met' if ratio >= minimum else 'MISSED'}")
    if zot is None:
        return ""
    if name == "blob pull MB/s":
        share = zot / bounds["sendfile MB/s"]
        checks.append(f"{share:.0%} of sendfile: {'met' if share >= 0.8 else 'MISSED'}")
    if name.startswith("blob push") and name.endswith("MB/s"):
        share = zot / bounds["sequential write MB/s (fsync)"]
        checks.append(f"{share:.0%} of write+fsync: {'met' if share >= 0.8 else 'MISSED'}")
    if name.endswith("/ adjacent write+fsync"):
        checks.append(f">= 80%: {'met' if zot >= 0.8 else 'MISSED'}")
    if name == "peak RSS per worker MiB":
        checks.append(f"< 150 MiB: {'met' if zot < 150 else 'MISSED'}")
    if name == "start-up to first 200 s":
        checks.append(f"< 1 s: {'met' if zot < 1 else 'MISSED'}")
    return "; ".join(checks)


def print_report(summary: dict, bounds: dict, load, args, kinds: list[str]) -> None:
    print(
        f"side by side: {args.rounds} round(s) A B, cores {args.cores} each, big blob {args.big}, "
        f"zb -n {args.zb_requests} -c {args.concurrency}, load average at start {load[0]:.2f}"
    )
    for name, value in bounds.items():
        print(f"  bound: {name:<40} {value:10.1f}")
    width = max([34, *map(len, summary)])
    head = f"{'figure':<{width}} {'zot-server':>12} {'distribution':>12} {'ratio':>7}  target"
    print(head)
    print("-" * (len(head) + 30))
    for name, row in summary.items():
        cells = [
            f"{row[k]:12.3f}" if row.get(k) is not None else f"{'-':>12}"
            for k in ("zot-server", "distribution")
        ]
        ratio = f"{row['ratio']:6.2f}x" if row.get("ratio") is not None else f"{'-':>7}"
        print(f"{name:<{width}} {cells[0]} {cells[1]} {ratio}  {_target(name, row, bounds)}")


if __name__ == "__main__":
    sys.exit(main())
