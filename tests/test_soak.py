"""A bounded soak: concurrent mixed push/pull/delete, then zero errors, flat memory, clean scrub.

The full size (64 clients, 60 s) is marked slow: ``pytest -m slow tests/test_soak.py``. The
default run (``-m "not slow"``, see pyproject.toml) runs the reduced size (16 clients, 10 s).
"""

from __future__ import annotations

import os
import random
import threading
import time

import pytest
import requests
from oci import Client, random_image, sha256
from robust import SettingsServer, zot_cli

MAX_OPS = 5000  # per client: a bound on count as well as on time


def _workers_rss(master: int) -> int:
    """Summed VmRSS (bytes) of the master's children, read from /proc."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != master:
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def _client(base: str, index: int, deadline: float, errors: list, counts: dict) -> None:
    http = requests.Session()
    client = Client(base, http)
    rng = random.Random(index)
    name = f"soak/r{index % 8}"
    mine: list = []
    for n in range(MAX_OPS):
        if time.monotonic() >= deadline:
            return
        op = rng.choice(["push", "push", "pull", "pull", "pull", "delete"])
        try:
            if op == "push" or not mine:
                op = "push"
                image = random_image(layers=2, size=rng.choice([1024, 16 * 1024, 256 * 1024]))
                tag = f"c{index}-{n}"
                client.push_image(name, tag, image)
                mine.append((tag, image))
            elif op == "pull":
                tag, image = rng.choice(mine)
                r = http.get(f"{base}/v2/{name}/manifests/{tag}")
                if r.status_code != 200 or r.content != image.manifest:
                    errors.append((op, tag, r.status_code))
                for blob in image.layers:
                    r = http.get(f"{base}/v2/{name}/blobs/{sha256(blob)}")
                    if r.status_code != 200 or sha256(r.content) != sha256(blob):
                        errors.append((op, "blob", r.status_code))
            else:
                tag, image = mine.pop(rng.randrange(len(mine)))
                r = http.delete(f"{base}/v2/{name}/manifests/{image.digest}")
                if r.status_code != 202:
                    errors.append((op, tag, r.status_code, r.text[:200]))
            counts[op] = counts.get(op, 0) + 1
        except (requests.RequestException, AssertionError) as exc:
            errors.append((op, repr(exc)[:200]))


@pytest.mark.parametrize(
    "clients,seconds",
    [pytest.param(16, 10, id="ci"), pytest.param(64, 60, id="full", marks=pytest.mark.slow)],
)
def test_soak(tmp_path, clients, seconds):
    root = tmp_path / "root"
    # GC runs during the soak; its delay keeps it off blobs a push is still using.
    settings = {"gc_interval": 2.0, "gc_delay": 30.0, "retention_delay": 30.0}
    with SettingsServer(root, settings, workers=2) as srv:
        master = srv.process.pid
        errors: list = []
        counts: dict = {}
        deadline = time.monotonic() + seconds
        threads = [
            threading.Thread(target=_client, args=(srv.url, i, deadline, errors, counts))
            for i in range(clients)
        ]
        for t in threads:
            t.start()
        samples = []
        while any(t.is_alive() for t in threads):
            samples.append(_workers_rss(master))
            time.sleep(0.5)
            if time.monotonic() > deadline + 120:
                pytest.fail("clients did not stop")
        for t in threads:
            t.join()
    third = max(1, len(samples) // 3)
    early, late = max(samples[:third]), max(samples[-third:])
    ops = sum(counts.values())
    mib = 2**20
    print(f"{clients} clients, {seconds} s: {ops} operations {counts}, {len(errors)} errors; "
          f"worker RSS early max {early / mib:.1f} MiB, late max {late / mib:.1f} MiB")  # fmt: skip
    assert not errors, errors[:20]
    assert ops > clients * 5
    assert late - early < 48 * 2**20, "worker memory kept growing"
    scrub = zot_cli("scrub", "--root", str(root), timeout=300)
    assert scrub.returncode == 0, scrub.stdout
