"""ENOSPC: an upload that fills the disk fails with a clear 5xx OCI error and leaves nothing.

The root is a small tmpfs the test mounts (as root) and unmounts afterwards.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import requests
from oci import Client, random_image, sha256
from robust import SettingsServer, snapshot, zot_cli

OCTETS = {"Content-Type": "application/octet-stream"}
SIZE_MB = 16


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the disk-full test mounts a tmpfs and must run as root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)],
                   check=True)  # fmt: skip
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _assert_full(r: requests.Response) -> None:
    assert r.status_code == 507, (r.status_code, r.text)
    assert r.json()["errors"][0]["code"] == "INSUFFICIENT_STORAGE"


def test_upload_hitting_enospc(small_disk):
    root = small_disk  # the server's log goes next to the root, outside the tmpfs
    with SettingsServer(root, {"gc_interval": 0}) as srv:
        client = Client(srv.url)
        image = random_image()
        client.push_image("full/app", "v1", image)
        before = snapshot(root)

        big = os.urandom((SIZE_MB + 4) * 1024 * 1024)
        r = client.http.post(client.url("/v2/full/app/blobs/uploads/"),
                             params={"digest": sha256(big)}, data=big, headers=OCTETS)  # fmt: skip
        _assert_full(r)
        assert snapshot(root) == before, "a failed monolithic upload left something"

        # Chunked: the chunk fails, the session stays where it was, and can be cancelled.
        r = client.http.post(client.url("/v2/full/app/blobs/uploads/"))
        location = client.url(r.headers["Location"])
        r = client.http.patch(
            location, data=big, headers={**OCTETS, "Content-Range": f"0-{len(big) - 1}"}
        )
        _assert_full(r)
        r = client.http.get(location)
        assert r.status_code == 204 and r.headers["Range"] == "0-0"
        assert client.http.delete(location).status_code == 204
        assert snapshot(root) == before, "a failed chunk left something"

        # A new repository whose first upload fails leaves no folder behind.
        r = client.http.post(client.url("/v2/full/new/blobs/uploads/"),
                             params={"digest": sha256(big)}, data=big, headers=OCTETS)  # fmt: skip
        _assert_full(r)
        assert snapshot(root) == before

        # Fill the disk 1 MiB at a time: each push either lands whole or fails cleanly.
        pushed = []
        for _ in range(SIZE_MB + 2):
            blob = os.urandom(1024 * 1024)
            r = client.http.post(
                client.url("/v2/full/app/blobs/uploads/"),
                params={"digest": sha256(blob)}, data=blob, headers=OCTETS,
            )  # fmt: skip
            if r.status_code == 507:
                _assert_full(r)
                break
            assert r.status_code == 201, r.text
            pushed.append(blob)
        else:
            pytest.fail("the disk never filled")
        # Everything acknowledged is whole; the server still serves.
        for blob in pushed:
            r = client.http.get(client.url(f"/v2/full/app/blobs/{sha256(blob)}"))
            assert r.status_code == 200 and r.content == blob
        r = client.http.get(client.url("/v2/full/app/manifests/v1"))
        assert r.status_code == 200 and r.content == image.manifest
    assert zot_cli("scrub", "--root", str(root)).returncode == 0
