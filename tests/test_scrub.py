"""``zot-server scrub``: re-hashes every blob, reports corruption and dangling references."""

from __future__ import annotations

import json
import os

from oci import Client, random_image, sha256
from robust import SettingsServer, zot_cli


def test_scrub_clean_then_corrupt_then_missing(tmp_path):
    root = tmp_path / "root"
    with SettingsServer(root, {"gc_interval": 0}) as srv:
        client = Client(srv.url)
        images = [random_image(size=64 * 1024) for _ in range(3)]
        for i, image in enumerate(images):
            client.push_image(f"sc/r{i % 2}", f"v{i}", image)

    clean = zot_cli("scrub", "--root", str(root))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "scrub [" in clean.stderr and "100%" in clean.stderr  # the progress bar
    assert "0 problems" in clean.stderr

    # Flip one byte of a layer (in place: every hard link of it is corrupt too).
    layer = images[0].layers[0]
    path = root / "sc/r0/blobs/sha256" / sha256(layer)[7:]
    with open(path, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    bad = zot_cli("scrub", "--root", str(root))
    assert bad.returncode == 1
    assert f"corrupt\tsc/r0/blobs/sha256/{sha256(layer)[7:]}" in bad.stdout
    assert f"corrupt\t.zot-server/blobs/sha256/{sha256(layer)[7:]}" in bad.stdout

    # A missing blob a manifest needs is reported too.
    os.unlink(path)
    os.unlink(root / ".zot-server/blobs/sha256" / sha256(layer)[7:])
    gone = zot_cli("scrub", "--root", str(root))
    assert gone.returncode == 1
    assert f"missing\tsc/r0@{sha256(layer)}" in gone.stdout


def test_scrub_reads_root_from_config(tmp_path):
    root = tmp_path / "root"
    with SettingsServer(root, {"gc_interval": 0}) as srv:
        Client(srv.url).push_image("sc/cfg", "v1", random_image())
    config = tmp_path / "config.json"
    doc = {
        "storage": {"rootDirectory": str(root)},
        "http": {"address": "127.0.0.1", "port": "5000"},
    }
    config.write_text(json.dumps(doc))
    out = zot_cli("scrub", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr
    # In the repository: config, 2 layers, manifest; in the dedupe store: config and layers.
    assert "7 blobs" in out.stderr
