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


def random_image(layers: int = 2, size: int = 1024, subject: dict | None = None,
                 artifact_type: str | None = None) -> Image:
    blobs = [os.urandom(size) for _ in range(layers)]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": descriptor(OCI_CONFIG, config),
           "layers": [descriptor(OCI_LAYER, b) for b in blobs]}
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
        r = self.http.post(self.url(f"/v2/{name}/blobs/uploads/"), params={"digest": digest},
                           data=data, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, (r.status_code, r.text)
        return digest

    def push_manifest(self, name: str, reference: str, body: bytes,
                      media_type: str = OCI_MANIFEST) -> requests.Response:
        return self.http.put(self.url(f"/v2/{name}/manifests/{reference}"), data=body,
                             headers={"Content-Type": media_type})

    def push_image(self, name: str, tag: str, image: Image) -> str:
        self.push_blob(name, image.config)
        for layer in image.layers:
            self.push_blob(name, layer)
        r = self.push_manifest(name, tag, image.manifest)
        assert r.status_code == 201, (r.status_code, r.text)
        return image.digest
