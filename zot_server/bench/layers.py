"""Generated layers: a file per size whose first 4 KiB are random, so every run differs (as zb)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass

RANDOM_PAGE = 4096
_SIZE_RE = re.compile(r"(\d+)\s*([KMG]?i?B?)?", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """``1MB``, ``10MiB``, ``512K`` or a plain byte count; binary units, as zb's blobs."""
    match = _SIZE_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a size: {text!r}")
    unit = (match.group(2) or "").upper()[:1]
    return int(match.group(1)) * _UNITS[unit]


def size_label(size: int) -> str:
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


@dataclass(frozen=True)
class Layer:
    path: str
    size: int
    digest: str


def make_layer(workdir: str, size: int, block: int = 1 << 20) -> Layer:
    """Write ``size`` bytes (random first page, zeros after) and digest them once."""
    path = os.path.join(workdir, f"{size}.blob")
    hasher = hashlib.sha256()
    zeros = bytes(block)
    with open(path, "wb") as f:
        head = os.urandom(min(RANDOM_PAGE, size))
        f.write(head)
        hasher.update(head)
        remaining = size - len(head)
        while remaining > 0:
            part = zeros[: min(block, remaining)]
            f.write(part)
            hasher.update(part)
            remaining -= len(part)
    return Layer(path, size, f"sha256:{hasher.hexdigest()}")


def random_config() -> tuple[bytes, str]:
    """A small image config with random content, so each pushed image is a new manifest."""
    body = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"nonce": os.urandom(16).hex()}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    return body, f"sha256:{hashlib.sha256(body).hexdigest()}"


def image_manifest(config: bytes, config_digest: str, layer: Layer) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer.digest,
                    "size": layer.size,
                }
            ],
        },
        indent="\t",
    ).encode()
