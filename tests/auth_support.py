"""Helpers for the auth, config and extension tests: zot config files, htpasswd files,
images on disk for skopeo, and servers started from a config file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bcrypt
import requests
from oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, sha256

from zot_server.testing import RunningServer, free_port


def write_htpasswd(path: Path, users: dict[str, str]) -> Path:
    """bcrypt entries as ``htpasswd -B`` writes them ($2y$), at a low cost for speed."""
    lines = []
    for user, password in users.items():
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
        lines.append(f"{user}:{hashed.replace('$2b$', '$2y$', 1)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_config(path: Path, root: Path, port: int, http: dict | None = None, **top) -> Path:
    """A zot config document, JSON, with the given http section and top-level sections."""
    doc = {
        "distSpecVersion": "1.1.1",
        "storage": {"rootDirectory": str(root), "gc": True, "gcDelay": "1h"},
        "http": {"address": "127.0.0.1", "port": str(port), "realm": "zot", **(http or {})},
        "log": {"level": "info"},
        **top,
    }
    path.write_text(json.dumps(doc, indent=2))
    return path


def serve(make_server, tmp_path: Path, name: str, http: dict | None = None, **top):
    """Write ``<name>.json`` and start a server from it (one worker)."""
    root = tmp_path / f"{name}-root"
    port = free_port()
    config = write_config(tmp_path / f"{name}.json", root, port, http, **top)
    return make_server(root, port=port, extra_args=["--config", str(config)])


def start_from(config: Path, root: Path, port: int, **kwargs) -> RunningServer:
    return RunningServer(root, port=port, extra_args=["--config", str(config)], **kwargs).start()


def verify(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zot_server", "verify", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def oci_layout(directory: Path, tag: str = "v1", payload: bytes | None = None) -> Path:
    """A one-layer OCI image layout on disk, for skopeo ``oci:DIR:tag``."""
    layer = payload or os.urandom(2048)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()  # fmt: skip
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config), "layers": [descriptor(OCI_LAYER, layer)],
    }).encode()  # fmt: skip
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for data in (layer, config, manifest):
        (blobs / sha256(data).split(":", 1)[1]).write_bytes(data)
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = {"schemaVersion": 2, "manifests": [{
        **descriptor(OCI_MANIFEST, manifest),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}  # fmt: skip
    (directory / "index.json").write_text(json.dumps(index))
    return directory


def skopeo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def assert_oci_error(r: requests.Response, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["errors"][0]["code"] == code, body
    assert "message" in body["errors"][0]


class Servers:
    """Servers started from config files for one test module, stopped at its end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.running: list[RunningServer] = []

    def start(self, name: str, http: dict | None = None, workers: int = 1, **top) -> RunningServer:
        root = self.base / f"{name}-root"
        port = free_port()
        config = write_config(self.base / f"{name}.json", root, port, http, **top)
        args = ["--config", str(config)]
        running = RunningServer(root, port=port, workers=workers, extra_args=args)
        self.running.append(running)
        return running.start()

    def close(self) -> None:
        for running in self.running:
            running.close()


def module_servers(prefix: str):
    """A module-scoped ``servers`` fixture: its servers start once per test module."""
    import pytest

    @pytest.fixture(scope="module")
    def servers(tmp_path_factory):
        started = Servers(tmp_path_factory.mktemp(prefix))
        yield started
        started.close()

    return servers
