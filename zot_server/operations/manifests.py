"""``/v2/{name}/manifests/{reference}``: push, pull, check and delete manifests and tags."""

from __future__ import annotations

import functools
import hashlib

import flask
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from ..context import declared_length, storage
from ..errors import RegistryError
from ..references import check_digest, check_name, check_reference, check_tag, is_digest
from ..responses import empty
from ..storage import BlobNotFound, ManifestNotFound, ManifestRecord
from ..validation.manifests import MAX_MANIFEST, check_references, parse
from . import handles


@functools.lru_cache(maxsize=256)
def _accepted(header: str) -> frozenset[str]:
    """The media types an Accept header names, parameters dropped (clients repeat theirs)."""
    return frozenset(
        value.split(";", 1)[0].strip() for value, _ in MIMEAccept(parse_accept_header(header))
    )


def _accepts(media_type: str) -> bool:
    """Content negotiation (content-negotiation.md): no Accept, a wildcard, or the type."""
    header = ", ".join(flask.request.headers.getlist("Accept"))
    values = _accepted(header)
    if not values:
        return True
    return "*/*" in values or "application/*" in values or media_type in values


def _find(name: str, reference: str) -> ManifestRecord:
    check_name(name)
    check_reference(reference)
    record = storage().manifest(name, reference)
    if not is_digest(reference) and not _accepts(record.media_type):
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            "the manifest's media type is not in the Accept header",
            detail={"mediaType": record.media_type},
        )
    return record


def _headers(record: ManifestRecord) -> dict[str, str]:
    return {
        "Content-Type": record.media_type,
        "Docker-Content-Digest": record.digest,
        "ETag": f'"{record.digest}"',
    }


@handles("GET", "/v2/{name}/manifests/{reference}", quick=True)
def get_manifest(name: str, reference: str) -> flask.Response:
    record = _find(name, reference)
    return flask.Response(record.body, status=200, headers=_headers(record))


@handles("HEAD", "/v2/{name}/manifests/{reference}", quick=True)
def check_manifest(name: str, reference: str) -> flask.Response:
    record = _find(name, reference)
    return empty(200, _headers(record), length=record.size)


def _read_body() -> bytes:
    length = declared_length()
    if length is not None and length > MAX_MANIFEST:
        raise RegistryError(
            "MANIFEST_INVALID", "manifest exceeds 4 MiB", detail={"limit": MAX_MANIFEST}, status=413
        )
    body = flask.request.stream.read(MAX_MANIFEST + 1)
    if len(body) > MAX_MANIFEST:
        raise RegistryError(
            "MANIFEST_INVALID", "manifest exceeds 4 MiB", detail={"limit": MAX_MANIFEST}, status=413
        )
    return body


@handles("PUT", "/v2/{name}/manifests/{reference}")
def put_manifest(name: str, reference: str) -> flask.Response:
    check_name(name)
    if is_digest(reference):
        check_digest(reference)
        tags = [check_tag(t) for t in flask.request.args.getlist("tag")]
    else:
        tags = [check_tag(reference)]
    body = _read_body()
    manifest = parse(body, flask.request.headers.get("Content-Type"))

    algorithm = reference.split(":", 1)[0] if is_digest(reference) else "sha256"
    digest = f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"
    if is_digest(reference) and digest != reference:
        raise RegistryError(
            "DIGEST_INVALID",
            "manifest does not match the digest it was pushed by",
            detail={"expected": reference, "actual": digest},
        )

    store = storage()

    def size_of(child: str, is_manifest: bool) -> int | None:
        try:
            if is_manifest:
                return store.manifest(name, child).size
            return store.blob(name, child).size
        except (BlobNotFound, ManifestNotFound):
            return None

    check_references(manifest, size_of)
    store.put_manifest(name, body, manifest.media_type, digest, tags)

    headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
    if manifest.subject:
        headers["OCI-Subject"] = manifest.subject
    if is_digest(reference) and tags:
        headers["OCI-Tag"] = ", ".join(tags)
    return empty(201, headers, length=0)


@handles("DELETE", "/v2/{name}/manifests/{reference}")
def delete_manifest(name: str, reference: str) -> flask.Response:
    """By digest: the manifest and its tags. By tag: only the tag (end-9)."""
    check_name(name)
    check_reference(reference)
    storage().delete_manifest(name, reference)
    return empty(202)
