"""``/v2/{name}/blobs/{digest}``: fetch (whole or by Range), check and delete blobs."""

from __future__ import annotations

import re

import flask

from ..context import storage
from ..errors import RegistryError
from ..references import check_digest, check_name
from ..responses import empty, file_response
from ..storage import BlobReader
from . import handles

OCTETS = "application/octet-stream"
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")


def _blob(name: str, digest: str) -> BlobReader:
    check_name(name)
    check_digest(digest)
    return storage().blob(name, digest)


def _headers(blob: BlobReader) -> dict[str, str]:
    return {
        "Docker-Content-Digest": blob.digest,
        "Accept-Ranges": "bytes",
        "ETag": f'"{blob.digest}"',
    }


def parse_range(header: str, size: int) -> tuple[int, int]:
    """One ``bytes=`` range as (start, length); raises 416 when it cannot be satisfied."""
    match = _RANGE_RE.fullmatch(header.strip())
    unsatisfiable = RegistryError(
        "RANGE_INVALID",
        detail={"range": header[:100], "size": size},
        headers={"Content-Range": f"bytes */{size}"},
    )
    if not match or match.groups() == ("", ""):
        raise unsatisfiable
    first, last = match.groups()
    if first == "":  # suffix: the final N bytes
        length = min(int(last), size)
        if length == 0:
            raise unsatisfiable
        return size - length, length
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise unsatisfiable
    return start, end - start + 1


@handles("HEAD", "/v2/{name}/blobs/{digest}", quick=True)
def check_blob(name: str, digest: str) -> flask.Response:
    blob = _blob(name, digest)
    headers = {**_headers(blob), "Content-Type": OCTETS}
    return empty(200, headers, length=blob.size)


@handles("GET", "/v2/{name}/blobs/{digest}", quick=True)
def get_blob(name: str, digest: str) -> flask.Response:
    blob = _blob(name, digest)
    headers = _headers(blob)
    requested = flask.request.headers.get("Range")
    if requested is None:
        start, length, status = 0, blob.size, 200
    else:
        start, length = parse_range(requested, blob.size)
        status = 206
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{blob.size}"
    assert blob.path is not None
    return file_response(blob.path, start, length, status, headers, OCTETS)


@handles("DELETE", "/v2/{name}/blobs/{digest}")
def delete_blob(name: str, digest: str) -> flask.Response:
    check_name(name)
    check_digest(digest)
    storage().delete_blob(name, digest)
    return empty(202, {"Docker-Content-Digest": digest})
