"""storage.dedupe: one copy on disk of a blob in many repositories, surviving deletes."""

from __future__ import annotations

import os

from oci import Client, random_image, sha256
from robust import SettingsServer, blob_file, manifest_for, zot_cli


def _inode(root, name, digest):
    return blob_file(root, name, digest).stat().st_ino


def test_one_copy_across_repositories(tmp_path):
    root = tmp_path / "root"
    layer = os.urandom(256 * 1024)
    digest = sha256(layer)
    config = b'{"architecture": "amd64", "os": "linux"}'
    body = manifest_for([layer], config)
    names = [f"dd/r{i}" for i in range(4)]
    with SettingsServer(root, {"gc_interval": 0}) as srv:
        client = Client(srv.url)
        for name in names:
            client.push_blob(name, config)
            client.push_blob(name, layer)
            assert client.push_manifest(name, "v1", body).status_code == 201
        inodes = {_inode(root, name, digest) for name in names}
        assert len(inodes) == 1, "each repository has its own copy"
        shared = root / ".zot-server" / "blobs" / "sha256" / digest.split(":")[1]
        assert shared.stat().st_ino in inodes and shared.stat().st_nlink == len(names) + 1

        # Delete the image from all but one: the last still serves it.
        for name in names[:-1]:
            assert client.http.delete(client.url(f"/v2/{name}/manifests/{sha256(body)}")).ok
            assert client.http.delete(client.url(f"/v2/{name}/blobs/{digest}")).status_code == 202
        r = client.http.get(client.url(f"/v2/{names[-1]}/blobs/{digest}"))
        assert r.status_code == 200 and r.content == layer
    # GC keeps the shared copy while one repository links it.
    assert zot_cli("gc", "--root", str(root), "--delay", "0").returncode == 0
    assert shared.exists() and shared.stat().st_nlink == 2
    with SettingsServer(root, {"gc_interval": 0}) as srv:
        client = Client(srv.url)
        client.push_blob(names[0], layer)  # a re-push links the surviving copy
        assert _inode(root, names[0], digest) == shared.stat().st_ino
        assert client.http.delete(client.url(f"/v2/{names[-1]}/manifests/{sha256(body)}")).ok
    out = zot_cli("gc", "--root", str(root), "--delay", "0")
    assert out.returncode == 0 and f"shared\t.zot-server/blobs/sha256/{digest[7:]}" in out.stdout
    assert not shared.exists()


def test_dedupe_off_keeps_separate_copies(tmp_path):
    root = tmp_path / "root"
    with SettingsServer(root, {"gc_interval": 0, "dedupe": False}) as srv:
        client = Client(srv.url)
        image = random_image()
        client.push_image("nd/a", "v1", image)
        client.push_image("nd/b", "v1", image)
        digest = sha256(image.layers[0])
        assert _inode(root, "nd/a", digest) != _inode(root, "nd/b", digest)
        assert not (root / ".zot-server" / "blobs").exists()


def test_mount_shares_the_copy(tmp_path):
    root = tmp_path / "root"
    with SettingsServer(root, {"gc_interval": 0}) as srv:
        client = Client(srv.url)
        image = random_image()
        client.push_image("mnt/src", "v1", image)
        digest = sha256(image.layers[0])
        r = client.http.post(
            client.url("/v2/mnt/dst/blobs/uploads/"), params={"mount": digest, "from": "mnt/src"}
        )
        assert r.status_code == 201
        assert _inode(root, "mnt/src", digest) == _inode(root, "mnt/dst", digest)
        assert client.http.delete(client.url(f"/v2/mnt/src/manifests/{image.digest}")).ok
        assert client.http.delete(client.url(f"/v2/mnt/src/blobs/{digest}")).status_code == 202
        r = client.http.get(client.url(f"/v2/mnt/dst/blobs/{digest}"))
        assert r.content == image.layers[0]
