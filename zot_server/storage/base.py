"""The storage driver interface: what a back end must do, in registry terms, with no HTTP.

Names, digests, tags and upload ids arrive already checked against the grammars in
:mod:`zot_server.references`; back ends may rely on that and must still never resolve a
path outside their root. Bodies arrive as iterables of byte chunks and leave as readers,
so no back end needs to hold a blob whole in memory.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO


class StorageError(Exception):
    """Base of every error a back end raises; handlers translate these to OCI errors."""


class RepositoryNotFound(StorageError):
    pass


class BlobNotFound(StorageError):
    pass


class ManifestNotFound(StorageError):
    pass


class BlobReferenced(StorageError):
    """A blob a manifest of the repository still needs cannot be deleted (zot: 405 DENIED)."""


class ManifestBlobMissing(StorageError):
    """A manifest names a blob or child manifest that is not (or no longer) in the repository."""


class UploadNotFound(StorageError):
    pass


class UploadOffsetMismatch(StorageError):
    """A chunk did not start where the upload ends (chunks must arrive in order)."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"upload is at offset {offset}")
        self.offset = offset


class DigestMismatch(StorageError):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"expected {expected}, content hashes to {actual}")
        self.expected = expected
        self.actual = actual


class StorageFull(StorageError):
    """The back end ran out of space; nothing of the failed write is left behind."""


@dataclass(frozen=True)
class BlobReader:
    """A stored blob: its size, and where to read it from.

    ``path`` is set by back ends whose blobs are local files, so the server can hand the
    file to the kernel (``sendfile``) instead of copying it through Python.
    """

    digest: str
    size: int
    path: str | None = None

    def open(self) -> BinaryIO:
        if self.path is None:
            raise NotImplementedError("back end without local files must override open()")
        return open(self.path, "rb")  # noqa: SIM115 - caller closes


@dataclass(frozen=True)
class ManifestRecord:
    """A stored manifest as the API serves it."""

    digest: str
    media_type: str
    size: int
    body: bytes = field(repr=False)


class Storage(abc.ABC):
    """What every back end provides. One instance may serve many threads and processes."""

    # Reads answer from the local disk or page cache in microseconds, so the server may run
    # quick read handlers on its event loop (a network back end must leave this False).
    local_reads: bool = False

    # -- repositories ---------------------------------------------------------------------
    @abc.abstractmethod
    def repositories(self) -> list[str]:
        """All repository names, sorted."""

    def repositories_after(self, last: str | None) -> Iterator[str]:
        """Repository names after ``last``, in sorted order, produced as they are found (a
        catalog page need not list the whole store). Back ends may do better than this."""
        for name in self.repositories():
            if last is None or name > last:
                yield name

    @abc.abstractmethod
    def repository_exists(self, name: str) -> bool: ...

    # -- blobs ------------------------------------------------------------------------------
    @abc.abstractmethod
    def blob(self, name: str, digest: str) -> BlobReader:
        """The blob ``digest`` of repository ``name``; raises :class:`BlobNotFound`."""

    @abc.abstractmethod
    def delete_blob(self, name: str, digest: str) -> None: ...

    @abc.abstractmethod
    def mount_blob(self, name: str, source: str, digest: str) -> bool:
        """Make blob ``digest`` of repository ``source`` part of ``name``; False if absent."""

    # -- uploads ----------------------------------------------------------------------------
    @abc.abstractmethod
    def start_upload(self, name: str) -> str:
        """Open an upload session for repository ``name`` and return its id."""

    @abc.abstractmethod
    def upload_offset(self, name: str, upload_id: str) -> int:
        """Bytes received so far; raises :class:`UploadNotFound`."""

    @abc.abstractmethod
    def append_upload(
        self, name: str, upload_id: str, chunks: Iterable[bytes], start: int | None = None
    ) -> int:
        """Append ``chunks``; with ``start`` given it must equal the current offset.

        Returns the new offset. Raises :class:`UploadOffsetMismatch`, :class:`UploadNotFound`.
        """

    @abc.abstractmethod
    def complete_upload(
        self, name: str, upload_id: str, digest: str, chunks: Iterable[bytes] = ()
    ) -> int:
        """Append the last ``chunks``, verify ``digest``, and publish the blob atomically.

        Returns the blob size. On :class:`DigestMismatch` the session is discarded and
        nothing becomes visible.
        """

    @abc.abstractmethod
    def cancel_upload(self, name: str, upload_id: str) -> None: ...

    # -- manifests and tags -------------------------------------------------------------
    @abc.abstractmethod
    def manifest(self, name: str, reference: str) -> ManifestRecord:
        """A manifest by tag or digest; raises :class:`ManifestNotFound`."""

    @abc.abstractmethod
    def put_manifest(
        self, name: str, body: bytes, media_type: str, digest: str, tags: Iterable[str] = ()
    ) -> None:
        """Store a manifest (already validated) and point each of ``tags`` at it."""

    @abc.abstractmethod
    def delete_manifest(self, name: str, reference: str) -> None:
        """By tag: remove the tag only. By digest: remove the manifest and all its tags."""

    @abc.abstractmethod
    def tags(self, name: str) -> list[str]:
        """Tags of ``name``, sorted; raises :class:`RepositoryNotFound`."""

    @abc.abstractmethod
    def referrers(self, name: str, digest: str) -> list[dict]:
        """Descriptors of the manifests in ``name`` whose ``subject`` is ``digest``."""
