"""SIGKILL in the middle of many concurrent pushes, then a restart on the same root.

Everything acknowledged (201) must be served with matching digests; nothing partial may be
visible (scrub passes); interrupted upload sessions resume or answer BLOB_UPLOAD_UNKNOWN,
and idle ones are purged once older than gc_delay.
"""

from __future__ import annotations

import os
import threading
import time

import requests
from oci import Client, random_image, sha256
from robust import SettingsServer, zot_cli

OCTETS = {"Content-Type": "application/octet-stream"}
CLIENTS = 16


class Pusher(threading.Thread):
    """Pushes images (monolithic and chunked blobs, then the manifest) until the server dies."""

    def __init__(self, base: str, index: int) -> None:
        super().__init__(daemon=True)
        self.base, self.index = base, index
        self.blobs: list[tuple[str, bytes]] = []  # acknowledged
        self.manifests: list[tuple[str, str, bytes]] = []  # (name, tag, body) acknowledged
        self.sessions: list[tuple[str, bytes, int]] = []  # (location, data, acked offset)

    def chunked(self, http, name: str, data: bytes) -> bool:
        r = http.post(f"{self.base}/v2/{name}/blobs/uploads/")
        if r.status_code != 202:
            return False
        location = self.base + r.headers["Location"]
        half = len(data) // 2
        r = http.patch(
            location, data=data[:half], headers={**OCTETS, "Content-Range": f"0-{half - 1}"}
        )
        if r.status_code != 202:
            return False
        self.sessions.append((location, data, half))
        r = http.put(location, params={"digest": sha256(data)}, data=data[half:], headers=OCTETS)
        if r.status_code == 201:
            self.sessions.pop()
            self.blobs.append((name, data))
            return True
        return False

    def run(self) -> None:
        http = requests.Session()
        client = Client(self.base, http)
        n = 0
        try:
            while True:
                n += 1
                name = f"crash/c{self.index % 4}"
                image = random_image(layers=2, size=128 * 1024)
                client.push_blob(name, image.config)
                self.blobs.append((name, image.config))
                for layer in image.layers:
                    if n % 2:
                        client.push_blob(name, layer)
                        self.blobs.append((name, layer))
                    elif not self.chunked(http, name, layer):
                        return
                tag = f"t{self.index}-{n}"
                r = client.push_manifest(name, tag, image.manifest)
                if r.status_code != 201:
                    return
                self.manifests.append((name, tag, image.manifest))
                # Leave a session half-way, to be found after the crash.
                data = os.urandom(64 * 1024)
                r = http.post(f"{self.base}/v2/{name}/blobs/uploads/")
                location = self.base + r.headers["Location"]
                r = http.patch(location, data=data[:1000], headers=OCTETS)
                if r.status_code == 202:
                    self.sessions.append((location, data, 1000))
        except (requests.RequestException, AssertionError):
            return  # the server died under us


def test_sigkill_during_concurrent_pushes(tmp_path):
    root = tmp_path / "root"
    srv = SettingsServer(root, {"gc_interval": 0}, workers=2).start()
    try:
        pushers = [Pusher(srv.url, i) for i in range(CLIENTS)]
        for p in pushers:
            p.start()
        time.sleep(3.0)
        srv.kill()  # SIGKILL to the process group: master and workers
    finally:
        srv.close()
    for p in pushers:
        p.join(timeout=30)
        assert not p.is_alive()
    blobs = [b for p in pushers for b in p.blobs]
    manifests = [m for p in pushers for m in p.manifests]
    sessions = [s for p in pushers for s in p.sessions]
    assert len(manifests) >= CLIENTS, "too little was pushed before the kill to prove anything"

    # Nothing partial is visible: every stored file hashes to its name, every reference resolves.
    scrub = zot_cli("scrub", "--root", str(root))
    assert scrub.returncode == 0, scrub.stdout

    with SettingsServer(root, {"gc_interval": 0}, port=srv.port, workers=2) as again:
        base = again.url
        http = requests.Session()
        for name, data in blobs:
            r = http.get(f"{base}/v2/{name}/blobs/{sha256(data)}")
            assert r.status_code == 200 and r.content == data
            assert r.headers["Docker-Content-Digest"] == sha256(data)
        for name, tag, body in manifests:
            r = http.get(f"{base}/v2/{name}/manifests/{tag}")
            assert r.status_code == 200 and r.content == body
            assert r.headers["Docker-Content-Digest"] == sha256(body)
        resumed = unknown = 0
        for location, data, acked in sessions:
            location = location.replace(srv.url, base)
            r = http.get(location)
            if r.status_code == 404:
                assert r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
                unknown += 1
                continue
            assert r.status_code == 204, r.text
            offset = int(r.headers["Range"].split("-")[1]) + 1 if r.headers["Range"] != "0-0" else 0
            assert offset >= acked, "an acknowledged chunk was lost"
            r = http.put(
                location, params={"digest": sha256(data)}, data=data[offset:], headers=OCTETS
            )
            assert r.status_code == 201, r.text
            resumed += 1
        print(f"acked blobs {len(blobs)}, manifests {len(manifests)}, sessions {len(sessions)}: "
              f"resumed {resumed}, unknown {unknown}")  # fmt: skip

        # Leave fresh sessions idle: the background GC purges them after gc_delay.
        idle = []
        for i in range(3):
            r = http.post(f"{base}/v2/crash/c{i}/blobs/uploads/")
            http.patch(base + r.headers["Location"], data=b"x" * 100, headers=OCTETS)
            idle.append(base + r.headers["Location"])
    settings = {"gc_interval": 0.5, "gc_delay": 1.0, "retention_delay": 3600.0}
    with SettingsServer(root, settings, port=srv.port) as third:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            codes = {requests.get(u.replace(base, third.url)).status_code for u in idle}
            # One pass goes through the repositories in order: c3's leftovers may be removed a
            # moment after c0-c2's sessions already answer 404.
            left = [p for i in range(4) for p in (root / f"crash/c{i}/.uploads").glob("*")]
            if codes == {404} and not left:
                break
            time.sleep(0.3)
        assert codes == {404}, "idle sessions older than gc_delay were not purged"
        assert not left, "sessions left by the killed pushers were not purged"
        for name, tag, body in manifests:  # GC kept every tagged image whole
            r = requests.get(f"{third.url}/v2/{name}/manifests/{tag}")
            assert r.status_code == 200 and r.content == body
    assert zot_cli("scrub", "--root", str(root)).returncode == 0
