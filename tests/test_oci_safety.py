"""Bad input changes nothing and reaches nothing: after a volley of invalid requests the
repository directory is byte-for-byte what it was, and no request names a path outside the
storage root.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import requests
from oci import OCI_INDEX, OCI_MANIFEST, OCTETS, Client, error_codes, random_image, sha256

from zot_server.testing import RunningServer


def snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under ``root`` with a hash of its content. The (empty)
    staging directory for uploads may come and go; any file in it still counts."""
    seen: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            if d != ".uploads":
                seen[os.path.relpath(os.path.join(dirpath, d), root) + "/"] = "dir"
        for f in filenames:
            path = os.path.join(dirpath, f)
            with open(path, "rb") as fh:
                seen[os.path.relpath(path, root)] = hashlib.sha256(fh.read()).hexdigest()
    return seen


@pytest.fixture(scope="module")
def stocked(tmp_path_factory):
    """A server of this module's own: nothing else writes to its root."""
    root = tmp_path_factory.mktemp("safety") / "root"
    with RunningServer(root, workers=1) as running:
        client = Client(running.url)
        name = "safe/app"
        image = random_image(layers=2)
        client.push_image(name, "v1", image)
        yield running, client, name, image


def test_bad_requests_leave_the_repository_exactly_as_it_was(stocked):
    running, client, name, image = stocked
    repo = running.root / name
    before = snapshot(repo)
    missing = sha256(b"missing")
    other = random_image(layers=1)
    wrong_type = json.loads(image.manifest)
    wrong_type["mediaType"] = OCI_INDEX
    bad = [
        ("PUT", f"/v2/{name}/manifests/v1", b"{not json", {"Content-Type": OCI_MANIFEST}),
        ("PUT", f"/v2/{name}/manifests/v1", other.manifest, {"Content-Type": OCI_MANIFEST}),
        ("PUT", f"/v2/{name}/manifests/v1", json.dumps(wrong_type).encode(),
         {"Content-Type": OCI_MANIFEST}),
        ("PUT", f"/v2/{name}/manifests/{missing}", image.manifest, {"Content-Type": OCI_MANIFEST}),
        ("PUT", f"/v2/{name}/manifests/-bad", image.manifest, {"Content-Type": OCI_MANIFEST}),
        ("POST", f"/v2/{name}/blobs/uploads/?digest={missing}", b"data", OCTETS),
        ("POST", f"/v2/{name}/blobs/uploads/?digest=sha256:zz", b"data", OCTETS),
        ("POST", f"/v2/{name}/blobs/uploads/?mount=sha256:zz&from=safe/app", b"", {}),
        ("PATCH", f"/v2/{name}/blobs/uploads/{'0' * 32}", b"data", OCTETS),
        ("PUT", f"/v2/{name}/blobs/uploads/{'0' * 32}?digest={missing}", b"data", OCTETS),
        ("DELETE", f"/v2/{name}/blobs/uploads/{'0' * 32}", b"", {}),
        ("DELETE", f"/v2/{name}/manifests/nope", b"", {}),
        ("DELETE", f"/v2/{name}/manifests/{missing}", b"", {}),
        ("DELETE", f"/v2/{name}/blobs/{missing}", b"", {}),
        ("DELETE", f"/v2/{name}/blobs/sha256:zz", b"", {}),
        ("GET", f"/v2/{name}/tags/list?n=-3", b"", {}),
        ("GET", f"/v2/{name}/referrers/sha256:zz", b"", {}),
    ]  # fmt: skip
    for method, path, body, headers in bad:
        r = client.http.request(method, client.url(path), data=body, headers=headers)
        assert 400 <= r.status_code < 500, (method, path, r.status_code)
        assert error_codes(r), (method, path)
    assert snapshot(repo) == before
    r = client.http.get(client.url(f"/v2/{name}/manifests/v1"))
    assert r.content == image.manifest


@pytest.mark.parametrize(
    "path",
    [
        "/v2/..%2F..%2F..%2Ftmp%2Fescape/tags/list",
        "/v2/a/%2e%2e/%2e%2e/%2e%2e/tmp/escape/tags/list",
        "/v2/a/..%5C..%5Cescape/tags/list",
        "/v2/a/b/blobs/sha256:..%2F..%2F..%2Fescape",
        "/v2/a/b/manifests/..%2F..%2F..%2Fescape",
        "/v2/a/b/blobs/uploads/..%2F..%2F..%2Fescape",
        "/v2/a%00b/tags/list",
    ],
)
def test_paths_cannot_escape_the_root(stocked, path):
    running, *_ = stocked
    beside = snapshot(running.root.parent)  # the root's parent holds nothing but root and log
    for method in ("GET", "PUT", "POST", "DELETE", "PATCH"):
        r = requests.request(method, running.url + path, data=b"x", headers=OCTETS, timeout=10)
        assert r.status_code in (400, 404, 405), (method, path, r.status_code)
    after = snapshot(running.root.parent)
    assert {k for k in after if not k.startswith("root/")} == {
        k for k in beside if not k.startswith("root/")
    }
    assert not Path("/tmp/escape").exists()
