"""``zot-server check``: clean against this server, real deviations found in distribution."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import require
from zot_server.testing import free_port, wait_for


def _check(url: str, *args: str) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "zot_server", "check", url, "--json", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.stdout, proc.stderr[-2000:]
    return proc.returncode, json.loads(proc.stdout)


def test_this_server_keeps_to_its_spec(make_server):
    server = make_server(extra_args=["--strict"])
    code, report = _check(server.url, "--push")
    assert report["deviations"] == [], report["deviations"]
    assert code == 0
    assert report["calls"] >= 20
    # The scratch repository was cleaned up: its manifest is gone.
    code, again = _check(server.url)
    assert again["deviations"] == []


@pytest.fixture
def distribution(tmp_path):
    """CNCF distribution 2.8.2 (Debian docker-registry) on a free loopback port."""
    binary = require("docker-registry")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/v2/", 20, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_distribution_deviations_are_found(distribution):
    code, report = _check(distribution, "--push")
    assert code == 1
    by_step = {d["step"]: d for d in report["deviations"]}
    # distribution 2.8.2 has no referrers API (OCI 1.1) and no extension discovery; its 404
    # for them is a plain-text page, not an OCI error body.
    assert "referrers" in by_step, by_step
    assert by_step["referrers"]["status"] == 404
    assert any("text/plain" in d for d in by_step["referrers"]["deviations"])
    assert "extension discovery" in by_step
    # What distribution does implement passes: push, pull and delete of the scratch image.
    for step in ("push manifest", "pull manifest", "start upload", "delete manifest"):
        assert step not in by_step, by_step[step]


def test_basic_auth_is_used_and_its_absence_reported(make_server, tmp_path):
    from tests.auth_support import serve, write_htpasswd

    htpasswd = write_htpasswd(tmp_path / "htpasswd", {"alice": "s3cret"})
    server = serve(
        make_server, tmp_path, "auth", http={"auth": {"htpasswd": {"path": str(htpasswd)}}},
        extensions={"contract": {"strict": True}},
    )  # fmt: skip
    code, report = _check(server.url, "--user", "alice:s3cret", "--push")
    assert report["deviations"] == [] and code == 0
    code, anonymous = _check(server.url)
    version = next(d for d in anonymous["deviations"] if d["step"] == "version check")
    assert version["status"] == 401 and code == 1
