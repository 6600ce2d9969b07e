"""Local filesystem back end: one OCI image layout per repository, as zot keeps it.

    <root>/<repo>/oci-layout                  {"imageLayoutVersion": "1.0.0"}
    <root>/<repo>/index.json                  descriptors of the repository's manifests
    <root>/<repo>/blobs/<alg>/<hex>           blobs and manifests, content addressed
    <root>/<repo>/.uploads/<id>               upload sessions, staged apart
    <root>/.zot-server/locks/<hash>.lock      one lock file per repository
    <root>/.zot-server/blobs/<alg>/<hex>      shared copies (dedupe): repositories hard-link these

A repository directory is a valid OCI image layout at every instant, so ``skopeo copy
oci:<root>/<repo>:<tag>`` reads it directly. Blobs are written to the staging area, fsynced and
renamed into place only once their digest is verified; ``index.json`` is replaced atomically
under an exclusive lock. A crash therefore leaves at most an orphaned staging file or a
temporary index, never a partial blob or manifest that readers can see.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from .base import (
    BlobNotFound,
    BlobReader,
    BlobReferenced,
    DigestMismatch,
    ManifestBlobMissing,
    ManifestNotFound,
    ManifestRecord,
    RepositoryNotFound,
    Storage,
    StorageFull,
    UploadNotFound,
    UploadOffsetMismatch,
)
from .gc import children, reachable
from .writeback import Writeback

REF_NAME = "org.opencontainers.image.ref.name"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYOUT = b'{"imageLayoutVersion": "1.0.0"}'
UPLOADS = ".uploads"
META = ".zot-server"
UPLOAD_ID_RE = re.compile(r"[0-9a-f]{32}")
COPY_BLOCK = 1 << 20


def _hasher(algorithm: str):
    return hashlib.new(algorithm)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _no_space(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _fetched_elsewhere(body: bytes) -> set[str]:
    """Layers with ``urls`` (non-distributable): clients fetch them from there, so they need
    not be in the repository; which of them may be absent the handler has already decided."""
    try:
        layers = json.loads(body).get("layers")
    except (ValueError, AttributeError):
        return set()
    if not isinstance(layers, list):
        return set()
    return {
        d["digest"]
        for d in layers
        if isinstance(d, dict) and d.get("urls") and isinstance(d.get("digest"), str)
    }


class _HashCache:
    """Running sha256 states of uploads in progress, kept per process.

    A chunked upload's PATCHes may land on different workers; a worker that saw every chunk
    finishes without re-reading the staged file, any other falls back to hashing it from disk.
    """

    def __init__(self, limit: int = 256) -> None:
        self._states: OrderedDict[str, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def take(self, path: str, offset: int):
        with self._lock:
            entry = self._states.pop(path, None)
        if entry is not None and entry[0] == offset:
            return entry[1]
        return None

    def put(self, path: str, offset: int, state) -> None:
        with self._lock:
            self._states[path] = (offset, state)
            while len(self._states) > self._limit:
                self._states.popitem(last=False)

    def drop(self, path: str) -> None:
        with self._lock:
            self._states.pop(path, None)


class LocalStorage(Storage):
    """OCI image layouts under ``root``; safe for many threads and many processes."""

    local_reads = True

    def __init__(self, root: str, fsync: bool = True, dedupe: bool = True) -> None:
        self.root = os.path.realpath(root)
        self.fsync = fsync
        self.dedupe = dedupe
        self.shared_root = os.path.join(self.root, META, "blobs")
        os.makedirs(os.path.join(self.root, META, "locks"), exist_ok=True)
        open(os.path.join(self.root, META, "locks", "gc.lock"), "ab").close()  # see storage.gc
        self._hashes = _HashCache()
        self._repo_paths: dict[str, str] = {}  # name -> its directory (see _repo)
        self._index_cache: dict[str, tuple[tuple[int, int, int], list[dict]]] = {}
        self._manifest_cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- paths ------------------------------------------------------------------------------
    def _repo(self, name: str) -> str:
        # realpath stats every component (16% of a manifest HEAD's CPU, measured with py-spy);
        # a name that resolved to itself, with no symlink on the way, is remembered.
        cached = self._repo_paths.get(name)
        if cached is not None:
            return cached
        plain = os.path.join(self.root, name)
        path = os.path.realpath(plain)
        if not path.startswith(self.root + os.sep):
            raise RepositoryNotFound(name)
        if path == plain:
            if len(self._repo_paths) >= 8192:
                self._repo_paths.clear()
            self._repo_paths[name] = path
        return path

    def _blob_path(self, name: str, digest: str) -> str:
        algorithm, encoded = digest.split(":", 1)
        return os.path.join(self._repo(name), "blobs", algorithm, encoded)

    def _upload_path(self, name: str, upload_id: str) -> str:
        if not UPLOAD_ID_RE.fullmatch(upload_id):
            raise UploadNotFound(upload_id)
        return os.path.join(self._repo(name), UPLOADS, upload_id)

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """Exclusive lock on a repository's index, across threads and processes."""
        key = hashlib.sha256(name.encode()).hexdigest()[:32]
        path = os.path.join(self.root, META, "locks", key + ".lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- repositories -------------------------------------------------------------------------
    def repositories(self) -> list[str]:
        return list(self.repositories_after(None))

    def repositories_after(self, last: str | None) -> Iterator[str]:
        """Walk the root in the names' sorted order, skipping unread every folder whose names
        all sort at or before ``last``: a catalog page reads what it lists, not the whole root
        (10,000 repositories, 11 pages: each page walked them all before)."""
        return self._walk_sorted("", last)

    def _walk_sorted(self, prefix: str, last: str | None) -> Iterator[str]:
        try:
            with os.scandir(os.path.join(self.root, prefix) if prefix else self.root) as it:
                # Never blobs, staging or metadata; nested repositories remain.
                children = [
                    e.name
                    for e in it
                    if e.name[0] != "." and e.name != "blobs" and e.is_dir(follow_symlinks=False)
                ]
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return
        # A folder stands for two ranges of names: its own ("a") and those beneath it ("a/...");
        # sorting both keys together yields full names in plain string order ("a", "a-b", "a/b").
        keys = sorted(
            [(prefix + c, False) for c in children] + [(prefix + c + "/", True) for c in children]
        )
        for key, beneath in keys:
            if not beneath:
                if (last is None or key > last) and self._is_layout(key):
                    yield key
            elif last is None or key > last or last.startswith(key):
                yield from self._walk_sorted(key, last)
            # else: every name beneath sorts before ``last``: not read at all

    def _is_layout(self, name: str) -> bool:
        path = os.path.join(self.root, name)
        return os.path.isfile(os.path.join(path, "index.json")) and os.path.isfile(
            os.path.join(path, "oci-layout")
        )

    def repository_exists(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self._repo(name), "index.json"))

    def _ensure_layout(self, name: str) -> str:
        repo = self._repo(name)
        if not os.path.isfile(os.path.join(repo, "index.json")):
            self._mkdirs(repo)
            with self._locked(name):
                if not os.path.isfile(os.path.join(repo, "index.json")):
                    self._write_atomic(os.path.join(repo, "oci-layout"), LAYOUT)
                    self._write_index(repo, [])
        return repo

    # -- blobs ----------------------------------------------------------------------------
    def blob(self, name: str, digest: str) -> BlobReader:
        path = self._blob_path(name, digest)
        try:
            size = os.stat(path).st_size
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(digest) from None
        return BlobReader(digest=digest, size=size, path=path)

    def delete_blob(self, name: str, digest: str) -> None:
        """Refused (as zot does) while a manifest of the repository still needs the blob."""
        path = self._blob_path(name, digest)
        if not os.path.isfile(path):
            raise BlobNotFound(digest)
        with self._locked(name):
            try:
                entries = self._read_index(self._repo(name))
            except RepositoryNotFound:
                entries = []
            if digest in reachable(lambda d: self._body_or_none(name, d), entries):
                raise BlobReferenced(digest)
            try:
                os.unlink(path)
            except (FileNotFoundError, NotADirectoryError):
                raise BlobNotFound(digest) from None

    def _body_or_none(self, name: str, digest: str) -> bytes | None:
        try:
            return self._manifest_body(name, digest)
        except (ManifestNotFound, OSError):
            return None

    def _mkdirs(self, path: str) -> None:
        """``os.makedirs``, and each new directory's entry fsynced: an acknowledged blob in a
        new repository must not vanish with its folder after a power cut."""
        missing = []
        probe = path
        while not os.path.isdir(probe):
            missing.append(probe)
            probe = os.path.dirname(probe)
        if not missing:
            return
        os.makedirs(path, exist_ok=True)
        if self.fsync:
            for created in reversed(missing):
                _fsync_dir(os.path.dirname(created))

    @staticmethod
    def _touch(path: str) -> None:
        """Make an existing blob young again, so GC's grace delay protects it anew."""
        try:
            os.utime(path)
        except FileNotFoundError:
            pass

    def _link(self, src: str, dst: str) -> bool:
        """Hard-link ``src`` at ``dst`` atomically; False if ``src`` is gone."""
        staged = os.path.join(os.path.dirname(dst), f".link-{uuid.uuid4().hex}")
        try:
            os.link(src, staged)
        except FileNotFoundError:
            return False
        os.replace(staged, dst)
        # rename(2) of two links to one inode "does nothing": a racing push linked it first.
        if os.path.lexists(staged):
            os.unlink(staged)
        return True

    def mount_blob(self, name: str, source: str, digest: str) -> bool:
        try:
            src = self.blob(source, digest).path
        except (BlobNotFound, RepositoryNotFound):
            return False
        assert src is not None
        self._ensure_layout(name)
        dst = self._blob_path(name, digest)
        if os.path.exists(dst):
            self._touch(dst)
            return True
        self._mkdirs(os.path.dirname(dst))
        return self._link(src, dst)  # same root, same filesystem: one copy on disk

    def _publish(self, name: str, staged: str, digest: str) -> None:
        """Move a verified, fsynced staging file to its content address."""
        self._ensure_layout(name)
        dst = self._blob_path(name, digest)
        self._mkdirs(os.path.dirname(dst))
        if os.path.exists(dst):
            os.unlink(staged)  # identical content is already there
            self._touch(dst)
            return
        if self.dedupe:
            self._publish_shared(staged, digest, dst)
            return
        os.replace(staged, dst)
        if self.fsync:
            _fsync_dir(os.path.dirname(dst))

    def _publish_shared(self, staged: str, digest: str, dst: str) -> None:
        """Link the shared copy into the repository, creating it from ``staged`` if absent.

        GC may remove an unlinked shared copy between our check and our link: the link then
        fails and the verified staging file becomes the blob, and the shared copy with it.
        """
        algorithm, encoded = digest.split(":", 1)
        shared = os.path.join(self.shared_root, algorithm, encoded)
        if self._link(shared, dst):
            os.unlink(staged)
        else:
            # The repository's name first: from then on GC sees a link count of 2 and leaves
            # the shared name alone, whatever its delay.
            os.replace(staged, dst)
            self._mkdirs(os.path.dirname(shared))
            self._link(dst, shared)
            if self.fsync:
                _fsync_dir(os.path.dirname(shared))
        if self.fsync:
            _fsync_dir(os.path.dirname(dst))

    # -- uploads --------------------------------------------------------------------------
    def start_upload(self, name: str) -> str:
        upload_id = uuid.uuid4().hex
        path = self._upload_path(name, upload_id)
        for attempt in range(3):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                with open(path, "xb"):
                    pass
                return upload_id
            except FileNotFoundError:  # a failed upload's cleanup removed the empty folder
                if attempt == 2:
                    raise
            except OSError as exc:
                if _no_space(exc):
                    raise StorageFull(str(exc)) from exc
                raise
        return upload_id

    def _prune_empty(self, name: str) -> None:
        """After a failed or cancelled upload to a repository that never came to be, remove
        the folders its session created, so bad input leaves the root as it was."""
        repo = self._repo(name)
        if os.path.exists(os.path.join(repo, "index.json")):
            return
        path = os.path.join(repo, UPLOADS)
        while path.startswith(self.root + os.sep):
            if os.path.exists(os.path.join(path, "index.json")):
                return
            try:
                os.rmdir(path)
            except OSError:  # not empty: in use, or a real repository
                return
            path = os.path.dirname(path)

    def upload_offset(self, name: str, upload_id: str) -> int:
        try:
            return os.stat(self._upload_path(name, upload_id)).st_size
        except (FileNotFoundError, NotADirectoryError):
            raise UploadNotFound(upload_id) from None

    @contextmanager
    def _open_upload(self, name: str, upload_id: str) -> Iterator[object]:
        path = self._upload_path(name, upload_id)
        try:
            f = open(path, "r+b")  # noqa: SIM115 - closed below
        except (FileNotFoundError, NotADirectoryError):
            raise UploadNotFound(upload_id) from None
        with f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            # Cancelled or completed while we waited for the lock?
            if not os.path.exists(path) or os.stat(path).st_ino != os.fstat(f.fileno()).st_ino:
                raise UploadNotFound(upload_id)
            yield f

    def _append(self, f, path: str, chunks: Iterable[bytes], start: int | None) -> int:
        offset = os.fstat(f.fileno()).st_size
        if start is not None and start != offset:
            raise UploadOffsetMismatch(offset)
        state = self._hashes.take(path, offset)
        if state is None and offset == 0:
            state = _hasher("sha256")
        f.seek(offset)
        written = offset
        writeback = Writeback(f.fileno(), offset)  # the final fsync then has little left
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                f.write(chunk)
                if state is not None:
                    state.update(chunk)
                written += len(chunk)
                writeback.wrote(written)
            f.flush()
        except OSError as exc:
            f.truncate(offset)  # leave the session as it was before this request
            if _no_space(exc):
                raise StorageFull(str(exc)) from exc
            raise
        except BaseException:
            f.truncate(offset)
            raise
        if state is not None:
            self._hashes.put(path, written, state)
        return written

    def append_upload(
        self, name: str, upload_id: str, chunks: Iterable[bytes], start: int | None = None
    ) -> int:
        path = self._upload_path(name, upload_id)
        with self._open_upload(name, upload_id) as f:
            return self._append(f, path, chunks, start)

    def complete_upload(
        self, name: str, upload_id: str, digest: str, chunks: Iterable[bytes] = ()
    ) -> int:
        path = self._upload_path(name, upload_id)
        algorithm = digest.split(":", 1)[0]
        with self._open_upload(name, upload_id) as f:
            size = self._append(f, path, chunks, None)
            state = self._hashes.take(path, size) if algorithm == "sha256" else None
            if state is None:
                state = _hasher(algorithm)
                f.seek(0)
                for block in iter(lambda: f.read(COPY_BLOCK), b""):
                    state.update(block)
            actual = f"{algorithm}:{state.hexdigest()}"
            if actual != digest:
                os.unlink(path)
                self._prune_empty(name)
                raise DigestMismatch(digest, actual)
            if self.fsync:
                os.fsync(f.fileno())
            self._publish(name, path, digest)
        self._hashes.drop(path)
        return size

    def cancel_upload(self, name: str, upload_id: str) -> None:
        path = self._upload_path(name, upload_id)
        with self._open_upload(name, upload_id):
            os.unlink(path)
        self._hashes.drop(path)
        self._prune_empty(name)

    # -- index ----------------------------------------------------------------------------
    def _read_index(self, repo: str) -> list[dict]:
        path = os.path.join(repo, "index.json")
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise RepositoryNotFound(repo) from None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._index_cache.get(repo)
        if cached is not None and cached[0] == key:
            return cached[1]
        with open(path, "rb") as f:
            manifests = json.load(f).get("manifests", [])
        if len(self._index_cache) >= 8192:  # one entry per repository read: keep it bounded
            self._index_cache.clear()
        self._index_cache[repo] = (key, manifests)
        return manifests

    def _write_index(self, repo: str, manifests: list[dict]) -> None:
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        self._write_atomic(os.path.join(repo, "index.json"), json.dumps(body).encode())

    def _write_atomic(self, path: str, data: bytes) -> None:
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if _no_space(exc):
                raise StorageFull(str(exc)) from exc
            raise
        if self.fsync:
            _fsync_dir(os.path.dirname(path))

    # -- manifests ------------------------------------------------------------------------
    def _find(self, name: str, reference: str) -> dict:
        try:
            manifests = self._read_index(self._repo(name))
        except RepositoryNotFound:
            raise ManifestNotFound(reference) from None
        key = "digest" if ":" in reference else None
        for entry in manifests:
            if key:
                if entry.get("digest") == reference:
                    return entry
            elif entry.get("annotations", {}).get(REF_NAME) == reference:
                return entry
        raise ManifestNotFound(reference)

    def _manifest_body(self, name: str, digest: str) -> bytes:
        with self._cache_lock:
            body = self._manifest_cache.get(digest)
            if body is not None:
                self._manifest_cache.move_to_end(digest)
                return body
        try:
            with open(self._blob_path(name, digest), "rb") as f:
                body = f.read()
        except FileNotFoundError:
            raise ManifestNotFound(digest) from None
        with self._cache_lock:  # content addressed: a digest's bytes never change
            self._manifest_cache[digest] = body
            while len(self._manifest_cache) > 4096:
                self._manifest_cache.popitem(last=False)
        return body

    def manifest(self, name: str, reference: str) -> ManifestRecord:
        entry = self._find(name, reference)
        body = self._manifest_body(name, entry["digest"])
        return ManifestRecord(entry["digest"], entry["mediaType"], len(body), body)

    def put_manifest(
        self, name: str, body: bytes, media_type: str, digest: str, tags: Iterable[str] = ()
    ) -> None:
        repo = self._ensure_layout(name)
        dst = self._blob_path(name, digest)
        descriptor = {"mediaType": media_type, "digest": digest, "size": len(body)}
        tags = list(dict.fromkeys(tags))
        with self._locked(name):
            # GC and blob deletes take this lock too: what the manifest names is checked
            # and the index written without either of them running in between.
            manifests = list(self._read_index(repo))
            self._require_children(name, body, manifests)
            if os.path.exists(dst):
                self._touch(dst)
            else:
                self._mkdirs(os.path.dirname(dst))
                self._write_atomic(dst, body)
            kept: list[dict] = []
            orphaned: set[str] = set()
            for entry in manifests:
                tag = entry.get("annotations", {}).get(REF_NAME)
                if tag in tags:
                    orphaned.add(entry["digest"])  # the tag moves to the new manifest
                    continue
                if entry["digest"] == digest and tag is None:
                    continue  # an untagged duplicate; re-added below if still needed
                kept.append(entry)
            if tags:
                kept.extend({**descriptor, "annotations": {REF_NAME: t}} for t in tags)
            else:
                tagged = any(e["digest"] == digest for e in kept)
                if not tagged:
                    kept.append(descriptor)
            # A manifest whose last tag moved away stays pullable by digest.
            present = {e["digest"] for e in kept}
            for entry in manifests:
                if entry["digest"] in orphaned - present:
                    kept.append(
                        {k: entry[k] for k in ("mediaType", "digest", "size") if k in entry}
                    )
                    present.add(entry["digest"])
            self._write_index(repo, kept)

    def _require_children(self, name: str, body: bytes, manifests: list[dict]) -> None:
        blobs, children_ = children(body)
        blobs -= _fetched_elsewhere(body)
        listed = {e.get("digest") for e in manifests}
        for digest in sorted(blobs):
            if not os.path.isfile(self._blob_path(name, digest)):
                raise ManifestBlobMissing(digest)
        for digest in sorted(children_):
            if digest not in listed:
                raise ManifestBlobMissing(digest)

    def delete_manifest(self, name: str, reference: str) -> None:
        repo = self._repo(name)
        with self._locked(name):
            try:
                manifests = self._read_index(repo)
            except RepositoryNotFound:
                raise ManifestNotFound(reference) from None
            if ":" in reference:
                kept = [e for e in manifests if e.get("digest") != reference]
            else:
                kept = [e for e in manifests if e.get("annotations", {}).get(REF_NAME) != reference]
                gone = [e for e in manifests if e not in kept]
                for entry in gone:
                    if not any(e["digest"] == entry["digest"] for e in kept):
                        kept.append(
                            {k: entry[k] for k in ("mediaType", "digest", "size") if k in entry}
                        )
            if len(kept) == len(manifests) and kept == manifests:
                raise ManifestNotFound(reference)
            self._write_index(repo, kept)

    def tags(self, name: str) -> list[str]:
        manifests = self._read_index(self._repo(name))
        found = {e.get("annotations", {}).get(REF_NAME) for e in manifests}
        found.discard(None)
        return sorted(found)

    def referrers(self, name: str, digest: str) -> list[dict]:
        try:
            manifests = self._read_index(self._repo(name))
        except RepositoryNotFound:
            return []
        result: list[dict] = []
        seen: set[str] = set()
        for entry in manifests:
            candidate = entry["digest"]
            if candidate in seen:
                continue
            seen.add(candidate)
            try:
                doc = json.loads(self._manifest_body(name, candidate))
            except (ManifestNotFound, ValueError):
                continue
            if not isinstance(doc, dict):
                continue
            subject = doc.get("subject")
            if not isinstance(subject, dict) or subject.get("digest") != digest:
                continue
            descriptor = {
                "mediaType": entry["mediaType"],
                "digest": candidate,
                "size": entry["size"],
            }
            artifact_type = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
            if artifact_type:
                descriptor["artifactType"] = artifact_type
            if doc.get("annotations"):
                descriptor["annotations"] = doc["annotations"]
            result.append(descriptor)
        return result
