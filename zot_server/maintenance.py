"""``zot-server gc`` and ``zot-server scrub``: storage upkeep from the command line.

Both work on a root directly (the server may be running: GC takes the same repository locks
and the same root-wide GC lock as the background pass). Settings come from ``--config`` (zot's
config file: ``storage.rootDirectory``, ``gcDelay``...) with flags on top.
"""

from __future__ import annotations

import argparse
import sys
import time

from .cli import command, settings_from_args
from .storage import LocalStorage
from .storage.gc import Policy, collect, exclusive
from .storage.scrub import scrub


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="storage root")
    p.add_argument("--config", help="a zot config file (JSON or YAML)")


def _gc_arguments(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--dry-run", action="store_true", help="list what would go, remove nothing")
    p.add_argument("--delay", type=float, help="grace delay in seconds (default: gcDelay)")
    p.add_argument(
        "--untagged", action="store_true", help="also remove untagged, unreferenced manifests"
    )


@command("gc", _gc_arguments)
def gc_command(args: argparse.Namespace) -> int:
    """Exit 0 after a pass, 2 when another process holds the GC lock."""
    settings = settings_from_args(args)
    policy = Policy.from_settings(settings, dry_run=args.dry_run)
    if args.delay is not None:
        policy.delay = policy.retention_delay = args.delay
    if args.untagged:
        policy.untagged = True
    storage = LocalStorage(settings.root, fsync=settings.fsync, dedupe=settings.dedupe)
    lock = exclusive(storage.root)
    if lock is None:
        print("gc: another process is collecting this root", file=sys.stderr)
        return 2
    with lock:
        report = collect(storage, policy)
    for line in report.lines():
        print(line)
    verb = "would remove" if args.dry_run else "removed"
    print(f"gc: {verb} {report.count} items, {report.freed} bytes", file=sys.stderr)
    return 0


class _Bar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, stream=sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.last = 0.0

    def __call__(self, files: int, total_files: int, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and files < total_files:
            return
        self.last = now
        share = done / total if total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        mib = f"{done / 2**20:.1f}/{total / 2**20:.1f} MiB"
        self.stream.write(f"\rscrub [{bar}] {share:4.0%} {files}/{total_files} blobs {mib}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")


@command("scrub", _common)
def scrub_command(args: argparse.Namespace) -> int:
    """Exit 0 when every blob matches its digest and every reference resolves, else 1."""
    settings = settings_from_args(args)
    storage = LocalStorage(settings.root, fsync=settings.fsync, dedupe=settings.dedupe)
    bar = _Bar()
    result = scrub(storage, bar)
    bar.close()
    for problem in result.problems:
        print(problem)
    print(
        f"scrub: {result.blobs} blobs, {result.bytes} bytes hashed, "
        f"{len(result.problems)} problems",
        file=sys.stderr,
    )
    return 1 if result.problems else 0
