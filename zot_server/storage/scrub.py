"""Re-hash every stored blob and check every manifest's references (zot's ``scrub``).

Hard links (dedupe) make one file appear in many repositories: each inode is hashed once and
its verdict applies to every name it has. Temporary files a crash may leave (names with a
dot, upload sessions) are not content and are skipped.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .gc import children
from .local import LocalStorage

BLOCK = 1 << 20


@dataclass
class Problem:
    kind: str  # "corrupt" (content does not hash to its name) or "missing" (named, absent)
    path: str  # root-relative
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}\t{self.path}\t{self.detail}"


@dataclass
class Result:
    blobs: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)


def _blob_files(storage: LocalStorage) -> Iterator[tuple[str, str, str]]:
    """(path, algorithm, encoded) of every content-addressed file under the root."""
    folders = [os.path.join(storage.root, n, "blobs") for n in storage.repositories()]
    folders.append(storage.shared_root)
    for folder in folders:
        for algorithm in sorted(_list(folder)):
            for encoded in sorted(_list(os.path.join(folder, algorithm))):
                if "." not in encoded:
                    yield os.path.join(folder, algorithm, encoded), algorithm, encoded


def _list(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _hash(path: str, algorithm: str, progress: Callable[[int], None]) -> str:
    state = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            state.update(block)
            progress(len(block))
    return state.hexdigest()


def scrub(storage: LocalStorage, progress: Callable[[int, int, int, int], None] | None = None):
    """Check the whole root; ``progress(done_files, files, done_bytes, total_bytes)``."""
    files = []
    for path, algorithm, encoded in _blob_files(storage):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        files.append((path, algorithm, encoded, (st.st_dev, st.st_ino), st.st_size))
    total = sum(size for *_, size in {f[3]: f for f in files}.values())
    result = Result()
    verdicts: dict[tuple[int, int], str | None] = {}
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(result.blobs, len(files), done, total)

    for path, algorithm, encoded, inode, _ in files:
        if inode not in verdicts:
            actual = None
            if algorithm in hashlib.algorithms_available:
                try:
                    actual = _hash(path, algorithm, advance)
                except OSError as exc:
                    actual = f"unreadable ({exc.strerror})"
            verdicts[inode] = actual
        actual = verdicts[inode]
        result.blobs += 1
        rel = os.path.relpath(path, storage.root)
        if actual is None:
            result.problems.append(Problem("corrupt", rel, f"unknown algorithm {algorithm}"))
        elif actual != encoded:
            result.problems.append(
                Problem("corrupt", rel, f"content hashes to {algorithm}:{actual}")
            )
        if progress:
            progress(result.blobs, len(files), done, total)
    result.bytes = done
    result.problems.extend(_dangling(storage))
    return result


def _dangling(storage: LocalStorage) -> Iterator[Problem]:
    """Index entries or manifest references naming content that is not there."""
    for name in storage.repositories():
        repo = os.path.join(storage.root, name)
        try:
            entries = storage._read_index(repo)
        except (OSError, ValueError) as exc:
            yield Problem("corrupt", os.path.join(name, "index.json"), f"unreadable: {exc}")
            continue
        listed = {e.get("digest") for e in entries}
        for digest in sorted(
            {e.get("digest") for e in entries if isinstance(e.get("digest"), str)}
        ):
            path = storage._blob_path(name, digest)
            try:
                with open(path, "rb") as f:
                    body = f.read()
            except FileNotFoundError:
                yield Problem(
                    "missing", f"{name}@{digest}", "index.json names a manifest not stored"
                )
                continue
            blobs, manifests = children(body)
            for blob in sorted(blobs):
                if not os.path.isfile(storage._blob_path(name, blob)):
                    yield Problem("missing", f"{name}@{blob}", f"needed by manifest {digest}")
            for child in sorted(manifests - listed):
                yield Problem("missing", f"{name}@{child}", f"child of index {digest}")
