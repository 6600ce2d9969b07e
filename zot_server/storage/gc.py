"""Garbage collection of a local root, with zot's semantics (``gc``, ``gcDelay``, ``gcInterval``).

One pass, per repository and under that repository's index lock:

1. referrers whose subject is no longer in the repository are dropped from ``index.json``, and
   (with ``gc_untagged``) so are untagged manifests no index references, once older than the
   retention delay; repeated until nothing more goes, since a dropped index frees its children;
2. blobs no manifest of ``index.json`` reaches, idle upload sessions and crash leftovers
   (temporary files) are removed once older than ``gc_delay``;

then shared copies of the dedupe store that no repository links any more are removed, also
after ``gc_delay``. Ages are taken from ``st_ctime``, which linking, renaming and touching
refresh, so a blob just pushed, mounted or re-pushed is always young.

Why nothing in use is removed: a manifest PUT checks, under the same lock, that every blob it
names is present and then writes the index, so GC sees either no manifest (and the PUT fails
cleanly with MANIFEST_BLOB_UNKNOWN) or a manifest that protects its blobs. Uploads in flight
write to their session file, which keeps it young; a blob just published is young too.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .local import LocalStorage

log = logging.getLogger("zot_server.gc")

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
REF_NAME = "org.opencontainers.image.ref.name"


def _document(body: bytes) -> dict:
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _digests(items: object) -> Iterator[str]:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("digest"), str):
                yield item["digest"]


def children(body: bytes) -> tuple[set[str], set[str]]:
    """What a manifest body needs present: (blobs, child manifests). A subject is not needed."""
    doc = _document(body)
    blobs: set[str] = set()
    config = doc.get("config")
    if isinstance(config, dict) and isinstance(config.get("digest"), str):
        blobs.add(config["digest"])
    blobs.update(_digests(doc.get("layers")))
    blobs.update(_digests(doc.get("blobs")))  # artifact manifests
    return blobs, set(_digests(doc.get("manifests")))


def subject_of(body: bytes) -> str | None:
    subject = _document(body).get("subject")
    return subject.get("digest") if isinstance(subject, dict) else None


def reachable(body_of, entries: Iterable[dict]) -> set[str]:
    """Every digest reached from ``entries`` (manifests, their children, their blobs)."""
    seen: set[str] = set()
    pending = [e["digest"] for e in entries if isinstance(e.get("digest"), str)]
    while pending:
        digest = pending.pop()
        if digest in seen:
            continue
        seen.add(digest)
        body = body_of(digest)
        if body is None:
            continue
        blobs, manifests = children(body)
        seen.update(blobs)
        pending.extend(manifests - seen)
    return seen


@dataclass
class Policy:
    """What one pass may remove, and after how long (seconds)."""

    delay: float = 3600.0
    untagged: bool = False
    retention_delay: float = 86400.0
    dry_run: bool = False

    @classmethod
    def from_settings(cls, settings, dry_run: bool = False) -> Policy:
        return cls(settings.gc_delay, settings.gc_untagged, settings.retention_delay, dry_run)


@dataclass
class Report:
    """What a pass removed (or, in a dry run, would remove), as root-relative paths."""

    manifests: list[str] = field(default_factory=list)  # "<repo>@<digest>"
    blobs: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    freed: int = 0

    def lines(self) -> Iterator[str]:
        for kind in ("manifests", "blobs", "uploads", "leftovers", "shared"):
            for item in getattr(self, kind):
                yield f"{kind[:-1] if kind != 'shared' else 'shared'}\t{item}"

    @property
    def count(self) -> int:
        return sum(
            len(x) for x in (self.manifests, self.blobs, self.uploads, self.leftovers, self.shared)
        )


class Collector:
    """One GC pass over a :class:`LocalStorage`."""

    def __init__(self, storage: LocalStorage, policy: Policy) -> None:
        self.storage = storage
        self.policy = policy
        self.report = Report()

    def _old(self, path: str, delay: float) -> bool:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        # Unlinking one name of a shared inode refreshes its ctime: such a copy waits one
        # more delay after its last repository let go of it.
        return time.time() - max(st.st_mtime, st.st_ctime) >= delay

    def _remove(self, path: str, bucket: list[str]) -> None:
        rel = os.path.relpath(path, self.storage.root)
        try:
            size = os.lstat(path).st_size
        except FileNotFoundError:
            return
        if not self.policy.dry_run:
            try:
                os.unlink(path)
            except FileNotFoundError:
                return
        bucket.append(rel)
        self.report.freed += size

    def run(self) -> Report:
        for name in self.storage.repositories():
            self.repository(name)
        self.stray_uploads()
        self.shared_store()
        return self.report

    # -- one repository -------------------------------------------------------------------
    def repository(self, name: str) -> None:
        storage = self.storage
        with storage._locked(name):
            repo = storage._repo(name)
            try:
                entries = list(storage._read_index(repo))
            except (OSError, ValueError) as exc:
                log.warning("gc: skipping %s: unreadable index (%s)", name, exc)
                return
            kept = self._prune_manifests(name, entries)
            if len(kept) != len(entries) and not self.policy.dry_run:
                storage._write_index(repo, kept)
            needed = reachable(lambda d: self._body(name, d), kept)
            blobs = os.path.join(repo, "blobs")
            for algorithm in _listdir(blobs):
                folder = os.path.join(blobs, algorithm)
                for entry in _listdir(folder):
                    path = os.path.join(folder, entry)
                    if "." in entry:  # a temporary file a crash left behind
                        if self._old(path, self.policy.delay):
                            self._remove(path, self.report.leftovers)
                    elif f"{algorithm}:{entry}" not in needed and self._old(
                        path, self.policy.delay
                    ):
                        self._remove(path, self.report.blobs)
            for entry in _listdir(repo):
                if entry.startswith("index.json.") and entry.endswith(".tmp"):
                    path = os.path.join(repo, entry)
                    if self._old(path, self.policy.delay):
                        self._remove(path, self.report.leftovers)
        self.uploads(os.path.join(repo, ".uploads"))

    def _body(self, name: str, digest: str) -> bytes | None:
        try:
            with open(self.storage._blob_path(name, digest), "rb") as f:
                return f.read(4 * 1024 * 1024 + 1)
        except (OSError, ValueError):
            return None

    def _prune_manifests(self, name: str, entries: list[dict]) -> list[dict]:
        kept = list(entries)
        while True:
            present = {e["digest"] for e in kept}
            in_indexes: set[str] = set()
            for digest in present:
                body = self._body(name, digest)
                if body is not None:
                    in_indexes |= children(body)[1]
            drop: set[str] = set()
            for digest in present:
                body = self._body(name, digest)
                if body is None:
                    continue
                path = self.storage._blob_path(name, digest)
                subject = subject_of(body)
                tagged = any(
                    e["digest"] == digest and e.get("annotations", {}).get(REF_NAME) for e in kept
                )
                if subject and subject not in present and not tagged:
                    if self._old(path, self.policy.retention_delay):
                        drop.add(digest)  # a referrer follows its subject
                elif (
                    self.policy.untagged
                    and not tagged
                    and digest not in in_indexes
                    and not subject
                    and self._old(path, self.policy.retention_delay)
                ):
                    drop.add(digest)
            if not drop:
                return kept
            self.report.manifests.extend(f"{name}@{d}" for d in sorted(drop))
            kept = [e for e in kept if e["digest"] not in drop]

    # -- sessions, strays and the shared store ----------------------------------------------
    def uploads(self, folder: str) -> None:
        """Sessions idle for longer than the delay; one a request is writing is locked, kept."""
        for entry in _listdir(folder):
            path = os.path.join(folder, entry)
            if not self._old(path, self.policy.delay):
                continue
            try:
                f = open(path, "rb")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                continue
            with f:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a PATCH or PUT holds it right now
                self._remove(path, self.report.uploads)

    def stray_uploads(self) -> None:
        """Sessions opened in directories that never became repositories."""
        known = {os.path.join(self.storage.root, n) for n in self.storage.repositories()}
        for dirpath, dirnames, _ in os.walk(self.storage.root):
            if dirpath == self.storage.root:
                dirnames[:] = [d for d in dirnames if d != ".zot-server"]
            if ".uploads" in dirnames and dirpath not in known:
                self.uploads(os.path.join(dirpath, ".uploads"))
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "blobs"]

    def shared_store(self) -> None:
        """Shared copies no repository links to (link count 1) are garbage after the delay."""
        store = self.storage.shared_root
        for algorithm in _listdir(store):
            folder = os.path.join(store, algorithm)
            for entry in _listdir(folder):
                path = os.path.join(folder, entry)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                if (st.st_nlink <= 1 or "." in entry) and self._old(path, self.policy.delay):
                    self._remove(path, self.report.shared)


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def collect(storage: LocalStorage, policy: Policy) -> Report:
    """Run one pass now (callers wanting mutual exclusion use :func:`exclusive`)."""
    return Collector(storage, policy).run()


def exclusive(root: str):
    """The root's GC lock, taken without waiting: a file object, or None if another holds it."""
    path = os.path.join(root, ".zot-server", "locks", "gc.lock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    f = open(path, "a+b")  # noqa: SIM115 - the caller closes it to release the lock
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def run_if_due(storage: LocalStorage, policy: Policy, interval: float) -> Report | None:
    """One pass if no other process is collecting and none ran within ``interval``."""
    lock = exclusive(storage.root)
    if lock is None:
        return None
    with lock:
        stamp = os.path.join(storage.root, ".zot-server", "gc.last")
        try:
            if time.time() - os.stat(stamp).st_mtime < interval * 0.9:
                return None
        except FileNotFoundError:
            pass
        report = collect(storage, policy)
        with open(stamp, "w") as f:
            f.write(f"{time.time():.3f} removed {report.count} freed {report.freed}\n")
        if report.count:
            log.warning("gc: removed %d items, %d bytes", report.count, report.freed)
        return report


def start_background(storage: LocalStorage, settings) -> threading.Thread | None:
    """A daemon thread running GC every ``gc_interval`` seconds (zot's ``gcInterval``).

    Every worker starts one; the lock file and the time stamp let only one pass run per
    interval across all workers and server instances sharing the root.
    """
    if not settings.gc or settings.gc_interval <= 0:
        return None
    policy = Policy.from_settings(settings)
    interval = settings.gc_interval

    def loop() -> None:
        while True:
            time.sleep(interval * (0.5 + 0.5 * (os.getpid() % 7) / 7))
            try:
                run_if_due(storage, policy, interval)
            except Exception:  # noqa: BLE001 - a failed pass must not end the loop
                log.exception("gc pass failed")

    thread = threading.Thread(target=loop, name="zot-gc", daemon=True)
    thread.start()
    return thread
