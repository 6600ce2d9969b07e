"""Upstream tracking: ``spec diff``, ``spec check`` and booting from other swagger revisions."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import requests

from tests.oci import Client, random_image, sha256
from zot_server.spec import load_swagger
from zot_server.spec_tools import check, diff

NEW_PATH = "/v2/_zot/ext/newfeature"


def upstream() -> dict:
    return load_swagger()


def newer_revision() -> dict:
    """An upstream-style revision: the digest header fixed, one operation added, one dropped,
    a parameter changed, a response dropped, a path parameter renamed."""
    doc = copy.deepcopy(upstream())
    for item in doc["paths"].values():
        for op in item.values():
            for resp in op.get("responses", {}).values():
                headers = resp.get("headers") or {}
                if "constants.DistContentDigestKey" in headers:
                    headers.pop("constants.DistContentDigestKey")
                    headers["Docker-Content-Digest"] = {"type": "string"}
    doc["paths"][NEW_PATH] = {
        "get": {
            "summary": "a zot extension this server has no handler for",
            "produces": ["application/json"],
            "responses": {"200": {"description": "ok", "schema": {"type": "object"}}},
        }
    }
    del doc["paths"]["/v2/{name}/blobs/{digest}"]["delete"]
    for p in doc["paths"]["/v2/{name}/tags/list"]["get"]["parameters"]:
        if p["name"] == "n":
            p["type"] = "string"
    doc["paths"]["/v2/_catalog"]["get"]["responses"].pop("500")
    doc["paths"]["/v2/{repo}/referrers/{digest}"] = doc["paths"].pop(
        "/v2/{name}/referrers/{digest}"
    )
    for p in doc["paths"]["/v2/{repo}/referrers/{digest}"]["get"]["parameters"]:
        if p["name"] == "name":
            p["name"] = "repo"
    return doc


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zot_server", "spec", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_diff_finds_added_removed_and_changed(tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(upstream()))
    new.write_text(json.dumps(newer_revision()))
    result = json.loads(_cli("diff", str(old), str(new), "--json").stdout)
    assert result["added"] == [f"GET {NEW_PATH}"]
    assert result["removed"] == ["DELETE /v2/{name}/blobs/{digest}"]
    tags = result["changed"]["GET /v2/{name}/tags/list"]
    assert tags["parameters"] == {"changed": ["query n"]}
    assert result["changed"]["GET /v2/_catalog"]["responses"] == {"removed": ["500"]}
    renamed = result["changed"]["GET /v2/{repo}/referrers/{digest}"]
    assert renamed["path"] == {
        "old": "/v2/{name}/referrers/{digest}",
        "new": "/v2/{repo}/referrers/{digest}",
    }
    assert "path name" in renamed["parameters"]["removed"]
    assert "path repo" in renamed["parameters"]["added"]
    text = _cli("diff", str(old), str(new)).stdout
    assert f"+ GET {NEW_PATH}" in text
    assert "- DELETE /v2/{name}/blobs/{digest}" in text
    assert "parameters changed: query n" in text
    assert _cli("diff", str(old), str(old)).stdout.strip() == "no differences"


def test_diff_of_definitions():
    new = copy.deepcopy(upstream())
    new["definitions"]["api.ImageIndex"]["properties"]["extra"] = {"type": "string"}
    new["definitions"]["api.Brand.New"] = {"type": "object"}
    assert diff(upstream(), new)["definitions"] == {
        "added": ["api.Brand.New"],
        "changed": ["api.ImageIndex"],
    }


def test_check_reports_handlers_and_fixed_corrections(tmp_path):
    path = tmp_path / "new.json"
    path.write_text(json.dumps(newer_revision()))
    result = check(str(path))
    ops = {f"{o['method']} {o['path']}": o["handler"] for o in result["operations"]}
    assert ops[f"GET {NEW_PATH}"] is None  # answered 501
    assert ops["GET /v2/{name}/tags/list"] == "zot_server.operations.tags.list_tags"
    assert ops["GET /v2/{repo}/referrers/{digest}"] is not None  # found by path shape
    assert "DELETE /v2/{name}/blobs/{digest}" not in ops
    status = {c["id"]: c["status"] for c in result["corrections"]}
    # Upstream fixed the object-typed digest header: that correction no longer changes anything.
    assert status["digest-header-is-a-string"] == "no-op"
    assert status["name-spans-segments"] == "applied"
    assert check()["corrections"][0]["status"] == "applied"
    text = _cli("check", str(path)).stdout
    assert f"{NEW_PATH}  -> 501 (no handler)" in text
    assert "no-op     digest-header-is-a-string  (upstream already agrees)" in text


def test_a_newer_revision_boots_and_serves_push_pull(make_server, tmp_path):
    path = tmp_path / "swagger.json"
    path.write_text(json.dumps(newer_revision()))
    server = make_server(extra_args=["--swagger", str(path), "--strict"])
    client = Client(server.url)
    image = random_image()
    digest = client.push_image("upstream/next", "v1", image)
    r = requests.get(
        server.url + "/v2/upstream/next/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}, timeout=10,
    )  # fmt: skip
    assert r.status_code == 200 and r.content == image.manifest
    assert r.headers["Docker-Content-Digest"] == digest
    r = requests.get(server.url + f"/v2/upstream/next/blobs/{sha256(image.layers[0])}", timeout=10)
    assert r.status_code == 200 and r.content == image.layers[0]
    # The operation the server has no handler for answers 501 UNSUPPORTED, as an OCI error.
    r = requests.get(server.url + NEW_PATH, timeout=10)
    assert r.status_code == 501 and r.json()["errors"][0]["code"] == "UNSUPPORTED"
    # The dropped operation is no longer routed.
    r = requests.delete(
        server.url + f"/v2/upstream/next/blobs/{sha256(image.layers[0])}", timeout=10
    )
    assert r.status_code == 405
    # The server serves the revision it runs, corrected, in both forms.
    served = requests.get(server.url + "/swagger.json", timeout=10).json()
    assert NEW_PATH in served["paths"]
    assert requests.get(server.url + "/openapi.json", timeout=10).json()["openapi"] == "3.0.3"
