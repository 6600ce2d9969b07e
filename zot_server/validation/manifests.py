"""Validate pushed manifests and indexes against the OCI image-spec rules (MANIFEST_INVALID).

The schemas live in ``schemas/manifests.json``, one entry per accepted media type; they are
compiled once at import. Checks that need the repository (referenced blobs exist, sizes
match) are :func:`check_references`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from ..errors import RegistryError
from ..references import check_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MAX_MANIFEST = 4 * 1024 * 1024  # OCI Distribution Spec: registries SHOULD accept 4 MiB
FOREIGN_LAYERS = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
)


def _load() -> dict[str, Draft202012Validator]:
    text = resources.files(__package__).joinpath("schemas/manifests.json").read_text()
    document = json.loads(text)
    validators = {}
    for key in document["$defs"]:
        if "/" in key:
            schema = {**document, "$ref": f"#/$defs/{key.replace('/', '~1')}"}
            validators[key] = Draft202012Validator(schema)
    return validators


VALIDATORS = _load()
ACCEPTED_TYPES = tuple(VALIDATORS)


@dataclass(frozen=True)
class Manifest:
    media_type: str
    document: dict[str, Any]

    @property
    def subject(self) -> str | None:
        subject = self.document.get("subject")
        return subject.get("digest") if isinstance(subject, dict) else None

    def references(self) -> list[dict[str, Any]]:
        """Descriptors that must already be in the repository."""
        if self.media_type in INDEX_TYPES:
            return list(self.document.get("manifests", []))
        layers = [
            d
            for d in self.document.get("layers", [])
            if not (d.get("mediaType") in FOREIGN_LAYERS and d.get("urls"))
        ]
        return [self.document["config"], *layers]


def parse(body: bytes, content_type: str | None) -> Manifest:
    """Parse and check one manifest body pushed with ``content_type``."""
    media_type = (content_type or "").split(";", 1)[0].strip()
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(
            "MANIFEST_INVALID", "manifest is not JSON", detail=str(exc)[:200]
        ) from None
    if not isinstance(document, dict):
        raise RegistryError("MANIFEST_INVALID", "manifest is not a JSON object")
    declared = document.get("mediaType")
    if not media_type and isinstance(declared, str):
        media_type = declared
    if media_type not in VALIDATORS:
        raise RegistryError(
            "MANIFEST_INVALID",
            "unsupported manifest media type",
            detail={"mediaType": media_type[:200], "accepted": list(ACCEPTED_TYPES)},
        )
    if declared is not None and declared != media_type:
        raise RegistryError(
            "MANIFEST_INVALID",
            "mediaType in the manifest does not match Content-Type",
            detail={"mediaType": str(declared)[:200], "Content-Type": media_type},
        )
    error = next(
        iter(sorted(VALIDATORS[media_type].iter_errors(document), key=lambda e: e.path)), None
    )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise RegistryError(
            "MANIFEST_INVALID", f"{where}: {error.message[:300]}", detail={"rule": error.validator}
        )
    manifest = Manifest(media_type, document)
    for descriptor in manifest.references():
        check_digest(descriptor["digest"], code="MANIFEST_INVALID")
    if manifest.subject:
        check_digest(manifest.subject, code="MANIFEST_INVALID")
    return manifest


def check_references(manifest: Manifest, size_of) -> None:
    """Every referenced blob (or child manifest) exists with the declared size.

    ``size_of(digest, is_manifest)`` returns the stored size or None when absent.
    """
    is_index = manifest.media_type in INDEX_TYPES
    for descriptor in manifest.references():
        size = size_of(descriptor["digest"], is_index)
        if size is None:
            raise RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digest": descriptor["digest"]})
        if size != descriptor["size"]:
            raise RegistryError(
                "MANIFEST_INVALID",
                "descriptor size does not match the stored content",
                detail={"digest": descriptor["digest"], "size": descriptor["size"], "stored": size},
            )
