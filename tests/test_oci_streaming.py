"""Blobs stream: a 128 MiB upload (chunked, of unknown length) and its download leave the
worker's peak RSS far below the blob's size, so no body is held whole in memory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import requests
from oci import OCTETS, Client, location, start_upload

from zot_server.testing import RunningServer

BLOCK = os.urandom(1 << 20)
BLOCKS = 128
LIMIT = 48 << 20  # growth allowed to the worker's peak RSS: well under the 128 MiB blob


def _worker_pids(master: int) -> list[int]:
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(master):
            pids.append(int(status.parent.name))
    return pids


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_large_blob_streams_in_and_out(tmp_path):
    with RunningServer(tmp_path / "root", workers=1) as running:
        client = Client(running.url)
        name = "stream/big"
        client.push_blob(name, b"warm up")  # imports and caches settle before the baseline
        [worker] = _worker_pids(running.process.pid)
        baseline = _peak_rss(worker)

        expected = hashlib.sha256()
        for _ in range(BLOCKS):
            expected.update(BLOCK)
        digest = "sha256:" + expected.hexdigest()
        session = start_upload(client, name)
        r = client.http.patch(session, data=(BLOCK for _ in range(BLOCKS)), headers=OCTETS)
        assert r.request.headers.get("Transfer-Encoding") == "chunked"
        assert r.status_code == 202 and r.headers["Range"] == f"0-{BLOCKS * len(BLOCK) - 1}"
        r = client.http.put(location(client, r), params={"digest": digest}, headers=OCTETS)
        assert r.status_code == 201, r.text
        after_upload = _peak_rss(worker)

        received = hashlib.sha256()
        size = 0
        with requests.get(f"{running.url}/v2/{name}/blobs/{digest}", stream=True) as r:
            assert r.status_code == 200
            for chunk in r.iter_content(1 << 20):
                received.update(chunk)
                size += len(chunk)
        assert size == BLOCKS * len(BLOCK)
        assert "sha256:" + received.hexdigest() == digest
        after_download = _peak_rss(worker)

    assert after_upload - baseline < LIMIT, (baseline, after_upload)
    assert after_download - baseline < LIMIT, (baseline, after_download)
