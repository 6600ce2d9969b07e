"""A small OCI client over ``requests`` for the tests: blobs, manifests, images."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


@dataclass
class Image:
    config: bytes
    layers: list[bytes]
    manifest: bytes

    @property
    def digest(self) -> str:
        return sha256(self.manifest)


def random_image(
    layers: int = 2, size: int = 1024, subject: dict | None = None, artifact_type: str | None = None
) -> Image:
    blobs = [os.urandom(size) for _ in range(layers)]
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, b) for b in blobs],
    }
    if subject:
        doc["subject"] = subject
    if artifact_type:
        doc["artifactType"] = artifact_type
    return Image(config, blobs, json.dumps(doc).encode())


class Client:
    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.http = session or requests.Session()

    def url(self, path: str) -> str:
        return self.base + path

    def push_blob(self, name: str, data: bytes) -> str:
        digest = sha256(data)
        r = self.http.post(
            self.url(f"/v2/{name}/blobs/uploads/"),
            params={"digest": digest},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if r.status_code == 202:  # no single-POST push (distribution 2.8): POST then PUT
            r = self.http.put(
                location(self, r), params={"digest": digest}, data=data,
                headers={"Content-Type": "application/octet-stream"},
            )  # fmt: skip
        assert r.status_code == 201, (r.status_code, r.text)
        return digest

    def push_manifest(
        self, name: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST
    ) -> requests.Response:
        return self.http.put(
            self.url(f"/v2/{name}/manifests/{reference}"),
            data=body,
            headers={"Content-Type": media_type},
        )

    def push_blobs(self, name: str, image: Image) -> None:
        """The config and layers of ``image``, so its manifest can be pushed."""
        self.push_blob(name, image.config)
        for layer in image.layers:
            self.push_blob(name, layer)

    def push_image(self, name: str, tag: str, image: Image) -> str:
        self.push_blobs(name, image)
        r = self.push_manifest(name, tag, image.manifest)
        assert r.status_code == 201, (r.status_code, r.text)
        return image.digest


# -- helpers for the conformance, client and differential tests ------------------------------

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
EMPTY_JSON = b"{}"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
OCTETS = {"Content-Type": "application/octet-stream"}


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def unique(prefix: str = "conf") -> str:
    """A fresh repository name with several path segments, so every test has its own."""
    return f"{prefix}/{os.urandom(3).hex()}/img-{os.urandom(2).hex()}"


def error_codes(r: requests.Response) -> list[str]:
    """The OCI error codes of a response; fails unless the body has the spec's shape."""
    body = r.json()
    assert isinstance(body.get("errors"), list) and body["errors"], body
    for entry in body["errors"]:
        assert set(entry) <= {"code", "message", "detail"}, entry
        assert isinstance(entry["code"], str) and entry["code"].isupper(), entry
    return [e["code"] for e in body["errors"]]


def manifest_of(config: dict, layers: list[dict], media_type: str = OCI_MANIFEST, **extra) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": media_type, "config": config, "layers": layers}
    doc.update(extra)
    return json.dumps(doc).encode()


def index_of(manifests: list[dict], media_type: str = OCI_INDEX, **extra) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}
    doc.update(extra)
    return json.dumps(doc).encode()


def docker_image(layers: int = 2, size: int = 512) -> Image:
    """A Docker schema2 image: same shape as OCI, Docker media types."""
    blobs = [os.urandom(size) for _ in range(layers)]
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"},
                         "nonce": os.urandom(8).hex()}).encode()  # fmt: skip
    body = manifest_of(
        descriptor(DOCKER_CONFIG, config),
        [descriptor(DOCKER_LAYER, b) for b in blobs],
        media_type=DOCKER_MANIFEST,
    )
    return Image(config, blobs, body)


def artifact(
    subject: Image | None, artifact_type: str, payload: bytes, annotations: dict | None = None
) -> Image:
    """An artifact manifest with the empty config, as ORAS and the spec's guidance shape it."""
    extra: dict = {"artifactType": artifact_type}
    if subject is not None:
        extra["subject"] = descriptor(OCI_MANIFEST, subject.manifest)
    if annotations:
        extra["annotations"] = annotations
    body = manifest_of(
        descriptor(EMPTY_CONFIG, EMPTY_JSON),
        [descriptor("application/octet-stream", payload)],
        **extra,
    )
    return Image(EMPTY_JSON, [payload], body)


def start_upload(client: Client, name: str) -> str:
    """Open an upload session; the absolute URL of its Location."""
    r = client.http.post(client.url(f"/v2/{name}/blobs/uploads/"), headers={"Content-Length": "0"})
    assert r.status_code == 202, (r.status_code, r.text)
    return location(client, r)


def location(client: Client, r: requests.Response) -> str:
    """A Location header resolved against the registry (it may be relative)."""
    from urllib.parse import urljoin

    value = r.headers.get("Location")
    assert value, f"no Location on {r.status_code}"
    return urljoin(client.base + "/", value)
