"""32 concurrent clients racing on one blob, one manifest, one tag, and deletes against pushes."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import requests
from oci import Client, random_image, sha256
from robust import SettingsServer

CLIENTS = 32


def _pool(fn, items):
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(fn, items))


def _check_repo(root, name: str) -> None:
    """Every manifest index.json names has its file and every blob it needs."""
    repo = root / name
    index = json.loads((repo / "index.json").read_text())
    for entry in index["manifests"]:
        body = (repo / "blobs/sha256" / entry["digest"][7:]).read_bytes()
        assert sha256(body) == entry["digest"] and len(body) == entry["size"]
        doc = json.loads(body)
        for d in [doc.get("config", {}), *doc.get("layers", [])]:
            if d:
                blob = (repo / "blobs/sha256" / d["digest"][7:]).read_bytes()
                assert sha256(blob) == d["digest"], "a manifest names a broken blob"
    leftovers = [p.name for p in (repo / "blobs/sha256").iterdir() if "." in p.name]
    assert not leftovers, leftovers


def test_same_blob_same_manifest_same_tag(tmp_path):
    root = tmp_path / "root"
    with SettingsServer(root, {"gc_interval": 0}, workers=2) as srv:
        base = srv.url
        blob = os.urandom(512 * 1024)
        image = random_image(layers=1)

        def push_same_blob(_):
            s = requests.Session()
            return Client(base, s).push_blob("race/one", blob)

        assert set(_pool(push_same_blob, range(CLIENTS))) == {sha256(blob)}
        r = requests.get(f"{base}/v2/race/one/blobs/{sha256(blob)}")
        assert r.content == blob

        client = Client(base)
        client.push_blob("race/one", image.config)
        client.push_blob("race/one", image.layers[0])

        def push_same_manifest(_):
            return Client(base).push_manifest("race/one", "same", image.manifest).status_code

        assert set(_pool(push_same_manifest, range(CLIENTS))) == {201}
        index = json.loads((root / "race/one/index.json").read_text())
        assert [e["digest"] for e in index["manifests"]].count(image.digest) == 1

        images = [random_image(layers=1, size=4096) for _ in range(CLIENTS)]

        def push_under_one_tag(img):
            c = Client(base)
            return c.push_image("race/one", "latest", img)

        pushed = set(_pool(push_under_one_tag, images))
        r = requests.get(f"{base}/v2/race/one/manifests/latest")
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] in pushed
        index = json.loads((root / "race/one/index.json").read_text())
        tagged = [e for e in index["manifests"] if e.get("annotations")]
        latest = [
            e for e in tagged if e["annotations"].values() and "latest" in e["annotations"].values()
        ]
        assert len(latest) == 1
        # Each other pushed manifest stays pullable by digest.
        for img in images:
            assert requests.get(f"{base}/v2/race/one/manifests/{img.digest}").status_code == 200
        _check_repo(root, "race/one")


def test_delete_racing_push_leaves_no_dangling_manifest(tmp_path):
    """Half the clients push images sharing one layer; the rest delete that layer and manifests."""
    root = tmp_path / "root"
    with SettingsServer(root, {"gc_interval": 0}, workers=2) as srv:
        base = srv.url
        shared = os.urandom(64 * 1024)

        def pusher(i):
            c = Client(base)
            outcomes = []
            for j in range(6):
                img = random_image(layers=1, size=128)
                doc = json.loads(img.manifest)
                doc["layers"].append(
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                     "digest": sha256(shared), "size": len(shared)}
                )  # fmt: skip
                body = json.dumps(doc).encode()
                c.push_blob("race/del", img.config)
                c.push_blob("race/del", img.layers[0])
                c.push_blob("race/del", shared)
                r = c.push_manifest("race/del", f"p{i}-{j}", body)
                assert r.status_code in (201, 400), r.text
                if r.status_code == 400:
                    assert r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
                outcomes.append(r.status_code)
            return outcomes

        def deleter(i):
            s = requests.Session()
            codes = []
            for _ in range(12):
                r = s.delete(f"{base}/v2/race/del/blobs/{sha256(shared)}")
                codes.append(r.status_code)
                assert r.status_code in (202, 404, 405), r.text
                tags = s.get(f"{base}/v2/race/del/tags/list").json().get("tags") or []
                if tags:
                    r = s.get(f"{base}/v2/race/del/manifests/{tags[i % len(tags)]}")
                    if r.ok:
                        s.delete(
                            f"{base}/v2/race/del/manifests/{r.headers['Docker-Content-Digest']}"
                        )
            return codes

        with ThreadPoolExecutor(CLIENTS) as pool:
            pushes = [pool.submit(pusher, i) for i in range(CLIENTS // 2)]
            deletes = [pool.submit(deleter, i) for i in range(CLIENTS // 2)]
            results = [f.result() for f in pushes]
            codes = [c for f in deletes for c in f.result()]
        assert any(201 in r for r in results)
        assert 202 in codes or 405 in codes
        _check_repo(root, "race/del")
        # Every manifest still listed serves, with its blobs, over HTTP.
        index = json.loads((root / "race/del/index.json").read_text())
        for entry in index["manifests"]:
            r = requests.get(f"{base}/v2/race/del/manifests/{entry['digest']}")
            assert r.status_code == 200
            for layer in r.json()["layers"]:
                assert (
                    requests.head(f"{base}/v2/race/del/blobs/{layer['digest']}").status_code == 200
                )
