"""Garbage collection: offline CLI (dry run and real) and the background pass in the server."""

from __future__ import annotations

import json
import os
import time

import requests
from oci import Client, descriptor, random_image, sha256
from robust import SettingsServer, blob_file, snapshot, zot_cli


def test_gc_cli_dry_run_then_real(tmp_path):
    root = tmp_path / "root"
    with SettingsServer(root, {"gc_interval": 0}) as srv:
        client = Client(srv.url)
        kept = random_image()
        client.push_image("gc/app", "v1", kept)
        orphan = os.urandom(2048)
        client.push_blob("gc/app", orphan)
        # A session left open, never finished.
        r = requests.post(f"{srv.url}/v2/gc/app/blobs/uploads/")
        assert r.status_code == 202
        session = r.headers["Location"].rsplit("/", 1)[1]

    before = snapshot(root)
    dry = zot_cli("gc", "--root", str(root), "--dry-run", "--delay", "0")
    assert dry.returncode == 0, dry.stderr
    assert f"gc/app/blobs/sha256/{sha256(orphan).split(':')[1]}" in dry.stdout
    assert f"gc/app/.uploads/{session}" in dry.stdout
    for layer in kept.layers:
        assert sha256(layer).split(":")[1] not in dry.stdout
    assert snapshot(root) == before, "a dry run changed the root"

    young = zot_cli("gc", "--root", str(root), "--delay", "3600")
    assert young.returncode == 0 and young.stdout == "", young.stdout  # all within the grace delay

    real = zot_cli("gc", "--root", str(root), "--delay", "0")
    assert real.returncode == 0, real.stderr
    assert not blob_file(root, "gc/app", sha256(orphan)).exists()
    assert not (root / "gc/app/.uploads" / session).exists()
    with SettingsServer(root, {"gc_interval": 0}) as srv:
        client = Client(srv.url)
        r = client.http.get(client.url("/v2/gc/app/manifests/v1"))
        assert r.status_code == 200 and r.content == kept.manifest
        for blob in [kept.config, *kept.layers]:
            r = client.http.get(client.url(f"/v2/gc/app/blobs/{sha256(blob)}"))
            assert r.status_code == 200 and r.content == blob
        r = client.http.get(client.url(f"/v2/gc/app/blobs/uploads/{session}"))
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"


def test_background_gc_untagged_and_referrers(tmp_path):
    """Untagged manifests (when configured) go after the delay, and their referrers follow."""
    root = tmp_path / "root"
    settings = {"gc_interval": 1.0, "gc_delay": 1.0, "gc_untagged": True, "retention_delay": 1.0}
    with SettingsServer(root, settings, workers=2) as srv:
        client = Client(srv.url)
        tagged = random_image()
        client.push_image("gc/bg", "keep", tagged)
        untagged = random_image()
        client.push_image("gc/bg", "temp", untagged)
        subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": untagged.digest, "size": len(untagged.manifest)}  # fmt: skip
        sbom = random_image(layers=1, subject=subject, artifact_type="application/spdx+json")
        for blob in [sbom.config, *sbom.layers]:
            client.push_blob("gc/bg", blob)
        r = client.push_manifest("gc/bg", sbom.digest, sbom.manifest)
        assert r.status_code == 201, r.text
        # Drop the tag: the manifest is now untagged and unreferenced.
        assert client.http.delete(client.url("/v2/gc/bg/manifests/temp")).status_code == 202
        r = client.http.get(client.url(f"/v2/gc/bg/manifests/{untagged.digest}"))
        assert r.status_code == 200

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = client.http.get(client.url(f"/v2/gc/bg/manifests/{sbom.digest}"))
            gone = client.http.get(client.url(f"/v2/gc/bg/manifests/{untagged.digest}"))
            if r.status_code == 404 and gone.status_code == 404:
                break
            time.sleep(0.5)
        assert gone.status_code == 404, "untagged manifest not collected"
        assert r.status_code == 404, "referrer of a collected manifest not collected"
        for blob in [*untagged.layers, *sbom.layers]:
            assert not blob_file(root, "gc/bg", sha256(blob)).exists()
        # The tagged image is whole.
        r = client.http.get(client.url("/v2/gc/bg/manifests/keep"))
        assert r.status_code == 200 and r.content == tagged.manifest
        for blob in [tagged.config, *tagged.layers]:
            assert client.http.get(client.url(f"/v2/gc/bg/blobs/{sha256(blob)}")).content == blob
        last = (root / ".zot-server" / "gc.last").read_text()
        assert "removed" in last


def test_gc_never_takes_what_a_push_needs(tmp_path):
    """GC runs every 0.2 s with no grace delay while clients push blob then manifest.

    With gcDelay 0 every blob is collectable between its upload and its manifest PUT: the
    PUT must then fail cleanly (MANIFEST_BLOB_UNKNOWN), never succeed with blobs missing.
    """
    root = tmp_path / "root"
    settings = {"gc_interval": 0.2, "gc_delay": 0.0, "retention_delay": 3600.0}
    with SettingsServer(root, settings, workers=2) as srv:
        client = Client(srv.url)
        accepted, refused, purged = [], 0, 0
        deadline = time.monotonic() + 6
        i = 0
        while time.monotonic() < deadline and i < 300:
            i += 1
            image = random_image(layers=1, size=256)
            for blob in [image.config, *image.layers]:
                for _ in range(5):  # with no delay, even a fresh session may be purged: cleanly
                    r = client.http.post(
                        client.url("/v2/gc/race/blobs/uploads/"), params={"digest": sha256(blob)},
                        data=blob, headers={"Content-Type": "application/octet-stream"},
                    )  # fmt: skip
                    if r.status_code == 201:
                        break
                    assert r.status_code == 404, r.text
                    assert r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
                    purged += 1
            r = client.push_manifest("gc/race", f"t{i}", image.manifest)
            if r.status_code == 201:
                accepted.append((f"t{i}", image))
            else:
                assert r.status_code == 400, r.text
                assert r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
                refused += 1
        assert accepted, "no push got through"
        time.sleep(0.6)  # let at least two more passes run
        for tag, image in accepted:
            r = client.http.get(client.url(f"/v2/gc/race/manifests/{tag}"))
            assert r.status_code == 200 and r.content == image.manifest
            for blob in [image.config, *image.layers]:
                r = client.http.get(client.url(f"/v2/gc/race/blobs/{sha256(blob)}"))
                assert r.status_code == 200 and r.content == blob, (tag, r.status_code)
    print(f"pushes accepted {len(accepted)}, refused cleanly {refused}, sessions purged {purged}")


def test_referenced_blob_delete_is_denied(server):
    client = Client(server.url)
    image = random_image()
    client.push_image("gc/deny", "v1", image)
    r = client.http.delete(client.url(f"/v2/gc/deny/blobs/{sha256(image.layers[0])}"))
    assert r.status_code == 405 and r.json()["errors"][0]["code"] == "DENIED"
    assert client.http.get(client.url(f"/v2/gc/deny/blobs/{sha256(image.layers[0])}")).ok
    assert (
        client.http.delete(client.url(f"/v2/gc/deny/manifests/{image.digest}")).status_code == 202
    )
    r = client.http.delete(client.url(f"/v2/gc/deny/blobs/{sha256(image.layers[0])}"))
    assert r.status_code == 202


def test_index_children_are_kept(tmp_path):
    root = tmp_path / "root"
    with SettingsServer(root, {"gc_interval": 0, "gc_untagged": True}) as srv:
        client = Client(srv.url)
        child = random_image()
        client.push_image("gc/idx", child.digest, child)
        index = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [descriptor("application/vnd.oci.image.manifest.v1+json", child.manifest)],
        }).encode()  # fmt: skip
        r = client.push_manifest(
            "gc/idx", "multi", index, "application/vnd.oci.image.index.v1+json"
        )
        assert r.status_code == 201, r.text
    out = zot_cli("gc", "--root", str(root), "--delay", "0", "--untagged")
    assert out.returncode == 0 and out.stdout == "", out.stdout


def test_zot_config_keys_drive_background_gc(tmp_path, make_server):
    """storage.gc, gcDelay and gcInterval from a zot config file, as zot writes them."""
    root = tmp_path / "cfgroot"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "distSpecVersion": "1.1.0",
        "storage": {"rootDirectory": str(root), "gc": True, "gcDelay": "1s", "gcInterval": "1s"},
        "http": {"address": "127.0.0.1", "port": "5000"},
    }))  # fmt: skip
    srv = make_server(root, extra_args=["--config", str(config)])
    client = Client(srv.url)
    orphan = os.urandom(1024)
    client.push_blob("cfg/app", orphan)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and blob_file(root, "cfg/app", sha256(orphan)).exists():
        time.sleep(0.3)
    assert not blob_file(root, "cfg/app", sha256(orphan)).exists(), "gcInterval 1s never ran"


def test_one_collector_at_a_time(tmp_path):
    """While one process holds the root's GC lock, another pass refuses to start."""
    from zot_server.storage import LocalStorage
    from zot_server.storage.gc import exclusive

    root = tmp_path / "root"
    LocalStorage(str(root))
    lock = exclusive(str(root))
    assert lock is not None
    try:
        busy = zot_cli("gc", "--root", str(root), "--delay", "0")
        assert busy.returncode == 2 and "another process" in busy.stderr
    finally:
        lock.close()
    free = zot_cli("gc", "--root", str(root), "--delay", "0")
    assert free.returncode == 0, free.stderr
