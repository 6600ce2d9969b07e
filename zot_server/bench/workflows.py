"""One zb "request" each: the whole push or pull of an image, as a sequence of HTTP calls.

Every workflow raises :class:`WorkflowError` on an unexpected status, so the runner counts the
request as an error, and returns the layer bytes it moved (for MB/s).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field

from .client import Client
from .layers import Layer, image_manifest, random_config

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCTETS = "application/octet-stream"


class WorkflowError(Exception):
    def __init__(self, step: str, status: int) -> None:
        super().__init__(f"{step}: HTTP {status}")
        self.step = step
        self.status = status


@dataclass
class Pushed:
    """An image this run created, so that cleanup can remove it again."""

    repo: str
    tag: str
    manifest_digest: str
    blobs: list[str] = field(default_factory=list)


def _expect(reply, status: int, step: str) -> None:
    if reply.status != status:
        raise WorkflowError(step, reply.status)


def fresh_repo(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex}" if prefix else uuid.uuid4().hex


def _start(client: Client, repo: str) -> str:
    reply = client.request("POST", f"/v2/{repo}/blobs/uploads/")
    _expect(reply, 202, "start upload")
    return reply.headers["Location"]


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def put_monolith(client: Client, repo: str, data: bytes | None, layer: Layer | None = None) -> int:
    """POST, then one PUT carrying the whole blob (zb's "Push Monolith")."""
    location = _start(client, repo)
    if layer is not None:
        with open(layer.path, "rb") as body:
            reply = client.request(
                "PUT",
                _with_digest(location, layer.digest),
                body,
                {"Content-Type": OCTETS, "Content-Length": str(layer.size)},
            )
        _expect(reply, 201, "put layer")
        return layer.size
    assert data is not None
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    reply = client.request("PUT", _with_digest(location, digest), data, {"Content-Type": OCTETS})
    _expect(reply, 201, "put blob")
    return len(data)


def put_streamed(client: Client, repo: str, layer: Layer) -> int:
    """POST, one PATCH streaming the blob, then a body-less PUT (zb's "Push Chunk Streamed")."""
    location = _start(client, repo)
    with open(layer.path, "rb") as body:
        reply = client.request(
            "PATCH", location, body, {"Content-Type": OCTETS, "Content-Length": str(layer.size)}
        )
    _expect(reply, 202, "patch layer")
    location = reply.headers.get("Location", location)
    reply = client.request(
        "PUT", _with_digest(location, layer.digest), b"", {"Content-Length": "0"}
    )
    _expect(reply, 201, "close upload")
    return layer.size


def push_image(client: Client, prefix: str, layer: Layer, streamed: bool, tag: str) -> Pushed:
    """Layer, config and manifest into a fresh repository."""
    repo = fresh_repo(prefix)
    if streamed:
        put_streamed(client, repo, layer)
    else:
        put_monolith(client, repo, None, layer)
    config, config_digest = random_config()
    put_monolith(client, repo, config)
    manifest = image_manifest(config, config_digest, layer)
    reply = client.request(
        "PUT", f"/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": MANIFEST}
    )
    _expect(reply, 201, "put manifest")
    digest = reply.headers.get("Docker-Content-Digest", "")
    return Pushed(repo, tag, digest, [layer.digest, config_digest])


def pull_image(client: Client, image: Pushed) -> int:
    """HEAD and GET of the manifest, then of the config and of each layer (zb's "Pull")."""
    where = f"/v2/{image.repo}/manifests/{image.tag}"
    accept = {"Accept": MANIFEST}
    _expect(client.request("HEAD", where, headers=accept), 200, "head manifest")
    reply = client.request("GET", where, headers=accept)
    _expect(reply, 200, "get manifest")
    manifest = json.loads(reply.body or b"{}")
    moved = 0
    for descriptor in [manifest["config"], *manifest.get("layers", [])]:
        blob = f"/v2/{image.repo}/blobs/{descriptor['digest']}"
        _expect(client.request("HEAD", blob), 200, "head blob")
        reply = client.request("GET", blob, keep=False)
        _expect(reply, 200, "get blob")
        if reply.size != descriptor["size"]:
            raise WorkflowError("get blob (short body)", reply.status)
        moved += reply.size
    return moved


def get_catalog(client: Client) -> int:
    reply = client.request("GET", "/v2/_catalog")
    _expect(reply, 200, "catalog")
    return reply.size


def delete_image(client: Client, image: Pushed) -> bool:
    """Remove what a push created; registries that refuse deletes are left as they are."""
    ok = True
    if image.manifest_digest:
        reply = client.request("DELETE", f"/v2/{image.repo}/manifests/{image.manifest_digest}")
        ok = reply.status in (202, 404)
    for digest in image.blobs:
        reply = client.request("DELETE", f"/v2/{image.repo}/blobs/{digest}")
        ok = ok and reply.status in (202, 404)
    return ok
