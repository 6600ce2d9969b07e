"""Storage back ends. Handlers talk to :class:`~zot_server.storage.base.Storage` only."""

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
    StorageError,
    StorageFull,
    UploadNotFound,
    UploadOffsetMismatch,
)
from .local import LocalStorage

__all__ = [
    "BlobNotFound",
    "BlobReader",
    "BlobReferenced",
    "DigestMismatch",
    "LocalStorage",
    "ManifestBlobMissing",
    "ManifestNotFound",
    "ManifestRecord",
    "RepositoryNotFound",
    "Storage",
    "StorageError",
    "StorageFull",
    "UploadNotFound",
    "UploadOffsetMismatch",
]
