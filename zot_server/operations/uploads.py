"""``/v2/{name}/blobs/uploads/``: blob pushes, monolithic, chunked, streamed, or by mount.

Bodies go straight from the request stream to the storage layer in blocks; the digest is
computed as bytes pass and checked when the upload is closed (OCI Distribution Spec, Push).
"""

from __future__ import annotations

import re

import flask

from ..context import body_chunks, declared_length, query_value, storage
from ..errors import RegistryError
from ..references import check_digest, check_name
from ..responses import empty
from . import handles

_CONTENT_RANGE_RE = re.compile(r"(?:bytes )?(\d+)-(\d+)(?:/(?:\d+|\*))?")


def _session_headers(name: str, upload_id: str, offset: int) -> dict[str, str]:
    return {
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
        "Range": f"0-{offset - 1}" if offset else "0-0",
        "Docker-Upload-UUID": upload_id,
        "OCI-Chunk-Min-Length": "0",
    }


def _created(name: str, digest: str) -> flask.Response:
    return empty(201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest})


@handles("POST", "/v2/{name}/blobs/uploads")
def start_upload(name: str) -> flask.Response:
    """Open a session (202), push in one request (``?digest=``, 201), or mount (201/202)."""
    check_name(name)
    store = storage()
    digest = query_value("digest")
    mount = query_value("mount")
    source = query_value("from")
    if mount is not None and digest is None:
        check_digest(mount)
        if source is not None:
            check_name(source)
            # Access to the source repository is checked by the auth layer before we get here.
            if store.mount_blob(name, source, mount):
                return _created(name, mount)
        # Not mountable: fall back to an ordinary upload session (end-11).
    if digest is not None:
        check_digest(digest)  # before a session exists: a bad request leaves nothing behind
    upload_id = store.start_upload(name)
    if digest is not None:
        try:
            store.complete_upload(name, upload_id, digest, body_chunks())
        except BaseException:
            _discard(name, upload_id)
            raise
        return _created(name, digest)
    return empty(202, _session_headers(name, upload_id, 0), length=0)


def _discard(name: str, upload_id: str) -> None:
    try:
        storage().cancel_upload(name, upload_id)
    except Exception:  # noqa: BLE001 - already gone (a failed digest check removes it)
        pass


@handles("GET", "/v2/{name}/blobs/uploads/{session_id}", quick=True)
def upload_status(name: str, session_id: str) -> flask.Response:
    check_name(name)
    offset = storage().upload_offset(name, session_id)
    return empty(204, _session_headers(name, session_id, offset))


def _chunk_start() -> int | None:
    """Where the body says it starts (Content-Range), checked against Content-Length."""
    header = flask.request.headers.get("Content-Range")
    if header is None:
        return None
    match = _CONTENT_RANGE_RE.fullmatch(header.strip())
    if not match:
        raise RegistryError(
            "BLOB_UPLOAD_INVALID",
            "Content-Range must be <start>-<end>",
            detail={"Content-Range": header[:100]},
            status=416,
        )
    start, end = int(match.group(1)), int(match.group(2))
    length = declared_length()
    if end < start or (length is not None and length != end - start + 1):
        raise RegistryError(
            "BLOB_UPLOAD_INVALID",
            "Content-Range does not agree with Content-Length",
            detail={"Content-Range": header[:100], "Content-Length": length},
            status=416,
        )
    return start


@handles("PATCH", "/v2/{name}/blobs/uploads/{session_id}")
def upload_chunk(name: str, session_id: str) -> flask.Response:
    """A chunk (with Content-Range) or a stream (without): appended in order, or 416."""
    check_name(name)
    start = _chunk_start()
    offset = storage().append_upload(name, session_id, body_chunks(), start)
    return empty(202, _session_headers(name, session_id, offset), length=0)


@handles("PUT", "/v2/{name}/blobs/uploads/{session_id}")
def finish_upload(name: str, session_id: str) -> flask.Response:
    """Close the session with ``?digest=``, optionally carrying the last chunk."""
    check_name(name)
    digest = query_value("digest")
    if digest is None:
        raise RegistryError("DIGEST_INVALID", "closing an upload needs ?digest=")
    check_digest(digest)
    store = storage()
    start = _chunk_start()
    if start is not None:
        offset = store.upload_offset(name, session_id)
        if start != offset:
            raise RegistryError(
                "BLOB_UPLOAD_INVALID",
                "chunk out of order",
                status=416,
                headers={"Range": f"0-{offset - 1}" if offset else "0-0"},
            )
    store.complete_upload(name, session_id, digest, body_chunks())
    return _created(name, digest)


@handles("DELETE", "/v2/{name}/blobs/uploads/{session_id}")
def cancel_upload(name: str, session_id: str) -> flask.Response:
    check_name(name)
    storage().cancel_upload(name, session_id)
    return empty(204)
