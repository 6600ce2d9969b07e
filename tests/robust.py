"""Helpers of the robustness tests: servers with chosen settings, root snapshots, pushes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import requests
from oci import OCI_MANIFEST, Client, random_image, sha256

from zot_server.testing import RunningServer

# Starts the real server (gunicorn, uvicorn workers) from a Settings object given as JSON, so
# a test can set gc_delay, body_timeout... without depending on the config file reader.
_BOOT = (
    "import json, sys; from zot_server.registry import Settings; from zot_server.server import run;"
    " sys.exit(run(Settings(**json.loads(sys.argv[1]))))"
)


class SettingsServer(RunningServer):
    def __init__(self, root, settings: dict | None = None, **kwargs) -> None:
        super().__init__(root, **kwargs)
        self.settings = settings or {}

    def command(self) -> list[str]:
        settings = {
            "root": str(self.root),
            "address": "127.0.0.1",
            "port": self.port,
            "workers": self.workers,
            **self.settings,
        }
        return [sys.executable, "-c", _BOOT, json.dumps(settings)]


def snapshot(root: str | os.PathLike) -> dict[str, str]:
    """Every path under ``root`` with its type and, for files, size and sha256."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            found[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            path = os.path.join(dirpath, f)
            with open(path, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            found[os.path.relpath(path, root)] = f"file {os.path.getsize(path)} {digest}"
    return found


def zot_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zot_server", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def push_random(client: Client, name: str, tag: str, layers: int = 2, size: int = 1024):
    image = random_image(layers=layers, size=size)
    client.push_image(name, tag, image)
    return image


def manifest_for(blobs: list[bytes], config: bytes = b"{}") -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": sha256(b),
                "size": len(b),
            }
            for b in blobs
        ],
    }
    return json.dumps(doc).encode()


def blob_ok(base: str, name: str, data: bytes) -> bool:
    r = requests.get(f"{base}/v2/{name}/blobs/{sha256(data)}", timeout=30)
    return r.status_code == 200 and r.content == data


def tree_files(root: str | os.PathLike, under: str) -> list[Path]:
    return sorted(p for p in Path(root, under).rglob("*") if p.is_file())


def blob_file(root: str | os.PathLike, name: str, digest: str) -> Path:
    """Where a repository keeps a blob on disk."""
    algorithm, encoded = digest.split(":", 1)
    return Path(root, name, "blobs", algorithm, encoded)
