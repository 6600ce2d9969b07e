"""OCI error codes and the one exception type handlers raise to answer with them.

The codes and their statuses follow the OCI Distribution Specification v1.1, "Error Codes".
Every error body the server sends is built here, so clients always see
``{"errors": [{"code", "message", "detail"}]}``.
"""

from __future__ import annotations

import json
from typing import Any

# code -> (default HTTP status, default message)
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "manifest references a manifest or blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown to registry"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "the operation is unsupported"),
    "TOOMANYREQUESTS": (429, "too many requests"),
    # Not in the spec's table, used by distribution and zot for these cases.
    "RANGE_INVALID": (416, "requested range not satisfiable"),
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
    "BAD_REQUEST": (400, "the request does not follow the API specification"),
    "UNKNOWN": (500, "unknown error"),
    "NOT_FOUND": (404, "no such endpoint"),
    "METHOD_NOT_ALLOWED": (405, "method not allowed on this endpoint"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "unsupported content type"),
    "PAYLOAD_TOO_LARGE": (413, "request body too large"),
    "INSUFFICIENT_STORAGE": (507, "storage is full"),
}


class RegistryError(Exception):
    """An error answered to the client as an OCI error body."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        detail: Any = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        default_status, default_message = CODES.get(code, (500, code.lower()))
        self.code = code
        self.message = message or default_message
        self.detail = detail
        self.status = status or default_status
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def body(self) -> bytes:
        return error_body(self.code, self.message, self.detail)


def error_body(code: str, message: str, detail: Any = None) -> bytes:
    """Serialise one OCI error; ``detail`` is omitted when there is none."""
    entry: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        entry["detail"] = detail
    return json.dumps({"errors": [entry]}).encode()


def from_storage_error(exc: Exception) -> RegistryError:
    """Translate a storage back end's error into the OCI error a client should see."""
    from . import storage  # the storage layer knows nothing of this module

    if isinstance(exc, storage.ManifestBlobMissing):
        return RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digest": str(exc)})
    if isinstance(exc, storage.BlobReferenced):
        return RegistryError(
            "DENIED",
            "a manifest still references this blob",
            detail={"digest": str(exc)},
            status=405,
        )
    if isinstance(exc, storage.BlobNotFound):
        return RegistryError("BLOB_UNKNOWN", detail={"digest": str(exc)})
    if isinstance(exc, storage.ManifestNotFound):
        return RegistryError("MANIFEST_UNKNOWN", detail={"reference": str(exc)})
    if isinstance(exc, storage.RepositoryNotFound):
        return RegistryError("NAME_UNKNOWN")
    if isinstance(exc, storage.UploadNotFound):
        return RegistryError("BLOB_UPLOAD_UNKNOWN")
    if isinstance(exc, storage.UploadOffsetMismatch):
        end = f"0-{exc.offset - 1}" if exc.offset else "0-0"
        return RegistryError(
            "BLOB_UPLOAD_INVALID",
            "chunk out of order",
            detail={"offset": exc.offset},
            status=416,
            headers={"Range": end},
        )
    if isinstance(exc, storage.DigestMismatch):
        return RegistryError(
            "DIGEST_INVALID", detail={"expected": exc.expected, "actual": exc.actual}
        )
    if isinstance(exc, storage.StorageFull):
        return RegistryError("INSUFFICIENT_STORAGE", "no space left on the storage back end")
    return RegistryError("UNKNOWN", str(exc), status=500)
