"""Differential tests: the same request sequences against zot-server and the Debian
``docker-registry`` (CNCF distribution 2.8.2), comparing statuses, key headers and error codes.

Where the two are known to differ, and should, the step is listed in ``DIFFERENCES`` with the
reason; a listed step that stops differing fails too, so the list cannot go stale.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable
from urllib.parse import urlparse

import pytest
import requests
from conftest import require
from oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    OCTETS,
    Client,
    artifact,
    descriptor,
    docker_image,
    index_of,
    random_image,
    sha256,
    sha512,
)

from zot_server.testing import free_port, wait_for

pytestmark = pytest.mark.peer

# (scenario, step) -> why distribution 2.8.2 and zot-server (following OCI v1.1 and zot) differ.
DIFFERENCES: dict[tuple[str, str], str] = {
    ("referrers", "list"): "distribution 2.8 predates the OCI v1.1 referrers API (404 there)",
    ("referrers", "push-referrer"): "distribution 2.8 does not answer OCI-Subject",
    ("manifest-put", "too-large"): "distribution 2.8 has no manifest size limit; OCI v1.1 "
    "lets registries refuse over 4 MiB with 413 and zot does",
    ("sha512", "post"): "distribution 2.8 accepts only sha256 blob digests on upload",
    ("sha512", "get"): "follows from the sha512 upload being refused by distribution",
    ("errors", "invalid-name"): "distribution's router does not match an invalid name: a "
    "plain-text 404; the spec's NAME_INVALID with 400 is what zot answers",
    ("tags", "n-bad"): "distribution 2.8 ignores a non-numeric n; zot rejects it (400)",
    ("delete", "blob-in-use"): "zot refuses to delete a blob a manifest still uses (405); "
    "distribution deletes it",
    ("upload", "patch-out-of-order"): "distribution 2.8 ignores Content-Range on PATCH and "
    "appends; the spec requires 416 for a chunk out of order",
    ("upload", "single-post"): "distribution 2.8 has no single-POST push (a MAY in the "
    "spec) and opens a session (202), as the spec allows",
    ("upload", "single-post-wrong"): "follows from distribution 2.8 having no single-POST push",
    ("upload", "range-416"): "distribution 2.8 answers 416 with the whole blob's Content-Length "
    "and a 33-byte text body, a broken response; zot sends an OCI error body",
    ("tags", "all-body"): "distribution 2.8 lists tags in storage order; the spec requires "
    "lexical order",
    ("tags", "page-1-body"): "distribution 2.8 ignores n (paging came in distribution 3)",
    ("tags", "page-1-link"): "distribution 2.8 does not paginate, so sends no Link",
    ("tags", "page-2-body"): "distribution 2.8 ignores n and last",
    ("tags", "last-only-body"): "distribution 2.8 ignores last",
    ("delete", "tag"): "distribution 2.8 refuses tag deletion (400 DIGEST_INVALID); the spec "
    "allows that (400/405) and zot deletes the tag (202)",
    ("delete", "get-deleted-tag-2"): "follows from distribution refusing the tag deletion",
    ("delete", "tags-after-body"): "follows from distribution refusing the tag deletion",
    ("manifest-put", "get-tag-no-accept"): "distribution 2.8 treats a request without Accept "
    "as wanting Docker schema 1 and answers 404 for an OCI manifest; zot, like most "
    "registries now, serves the manifest (content-negotiation.md leaves this open)",
    ("manifest-put", "manifest-as-blob"): "zot keeps manifests as blobs of the repository's "
    "OCI layout, so a blob HEAD by a manifest digest finds it; distribution stores them apart",
    ("delete", "blob"): "distribution 2.8 sends no Docker-Content-Digest on a blob DELETE",
    ("errors", "unknown-upload"): "distribution wants its signed _state parameter and answers "
    "BLOB_UPLOAD_INVALID without it; the spec's code for an unknown session is "
    "BLOB_UPLOAD_UNKNOWN",
}

# Headers compared where both send them; values normalised by normalise().
HEADERS = ("Docker-Content-Digest", "Content-Type", "Range", "Content-Range", "OCI-Subject")


def normalise(r, name: str) -> dict:
    seen: dict = {"status": r.status_code}
    for key in HEADERS:
        value = r.headers.get(key)
        if value is not None and (key != "Content-Type" or r.status_code < 300):
            seen[key] = value.split(";")[0].strip()
    if "Location" in r.headers:
        path = urlparse(r.headers["Location"]).path
        upload = f"/v2/{name}/blobs/uploads/"
        seen["Location"] = upload + "<id>" if path.startswith(upload) else path
    if r.request.method == "HEAD" and r.status_code == 200:
        seen["Content-Length"] = r.headers.get("Content-Length")
    if r.status_code >= 400:
        try:
            seen["codes"] = sorted({e["code"] for e in r.json()["errors"]})
        except ValueError:
            seen["codes"] = "not json"
    return seen


class Recorder:
    """Runs a scenario's requests against one registry and notes what came back."""

    def __init__(self, base: str, name: str) -> None:
        self.client = Client(base)
        self.name = name
        self.steps: dict[str, dict] = {}

    def __call__(self, step: str, method: str, path: str, **kwargs):
        url = path if path.startswith("http") else self.client.url(path)
        try:
            r = self.client.http.request(method, url, allow_redirects=False, **kwargs)
        except requests.exceptions.ChunkedEncodingError as exc:
            self.steps[step] = {"broken response": type(exc).__name__}
            return None
        self.steps[step] = normalise(r, self.name)
        return r

    def location(self, r, fallback: str | None = None) -> str:
        from urllib.parse import urljoin

        if "Location" not in r.headers and fallback is not None:
            return fallback
        return urljoin(self.client.base + "/", r.headers["Location"])

    def note(self, step: str, value) -> None:
        self.steps[step] = value


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    """distribution 2.8.2 on a free loopback port, filesystem root in tmp, deletes enabled."""
    binary = require("docker-registry")
    root = tmp_path_factory.mktemp("distribution")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = open(root / "registry.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        wait_for(f"http://127.0.0.1:{port}/v2/", 30, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def scenario_base(rec: Recorder, data: dict) -> None:
    r = rec("get", "GET", "/v2/")
    rec.note("version-header", r.headers.get("Docker-Distribution-API-Version"))
    rec.note("body", r.json())
    r = rec("head", "HEAD", "/v2/")
    rec.note("head-version-header", r.headers.get("Docker-Distribution-API-Version"))


def scenario_upload(rec: Recorder, data: dict) -> None:
    n, blob = rec.name, data["blob"]
    r = rec("post", "POST", f"/v2/{n}/blobs/uploads/", headers={"Content-Length": "0"})
    session = rec.location(r)
    r = rec("patch-1", "PATCH", session, data=blob[:1000],
            headers={**OCTETS, "Content-Range": "0-999"})  # fmt: skip
    session = rec.location(r, session)
    r = rec("status", "GET", session)
    r = rec("patch-stream", "PATCH", session, data=blob[1000:2000], headers=OCTETS)
    session = rec.location(r, session)
    rec("put-no-digest", "PUT", session, headers=OCTETS)
    rec("put-wrong-digest", "PUT", session, params={"digest": sha256(b"x")},
        data=blob[2000:], headers=OCTETS)  # fmt: skip
    r = rec("post-2", "POST", f"/v2/{n}/blobs/uploads/")
    session = rec.location(r)
    rec("put-final", "PUT", session, params={"digest": sha256(blob)}, data=blob, headers=OCTETS)
    rec("head", "HEAD", f"/v2/{n}/blobs/{sha256(blob)}")
    r = rec("get", "GET", f"/v2/{n}/blobs/{sha256(blob)}")
    rec.note("get-body", sha256(r.content))
    rec("range", "GET", f"/v2/{n}/blobs/{sha256(blob)}", headers={"Range": "bytes=10-19"})
    rec("range-416", "GET", f"/v2/{n}/blobs/{sha256(blob)}",
        headers={"Range": f"bytes={len(blob) + 5}-"})  # fmt: skip
    r = rec("post-out-of-order", "POST", f"/v2/{n}/blobs/uploads/")
    rec("patch-out-of-order", "PATCH", rec.location(r), data=blob[2000:3000],
        headers={**OCTETS, "Content-Range": "2000-2999"})  # fmt: skip
    r = rec("post-cancel", "POST", f"/v2/{n}/blobs/uploads/")
    session = rec.location(r)
    rec("cancel", "DELETE", session)
    rec("status-after-cancel", "GET", session)
    rec("single-post", "POST", f"/v2/{n}/blobs/uploads/", params={"digest": sha256(data["other"])},
        data=data["other"], headers=OCTETS)  # fmt: skip
    rec("single-post-wrong", "POST", f"/v2/{n}/blobs/uploads/",
        params={"digest": sha256(b"nope")}, data=data["other"], headers=OCTETS)  # fmt: skip


def scenario_mount(rec: Recorder, data: dict) -> None:
    n, src = rec.name, rec.name + "-src"
    Client(rec.client.base).push_blob(src, data["blob"])
    rec("mount", "POST", f"/v2/{n}/blobs/uploads/",
        params={"mount": sha256(data["blob"]), "from": src})  # fmt: skip
    rec("mount-missing", "POST", f"/v2/{n}/blobs/uploads/",
        params={"mount": sha256(b"absent"), "from": src})  # fmt: skip
    rec("head-mounted", "HEAD", f"/v2/{n}/blobs/{sha256(data['blob'])}")


def scenario_manifest_put(rec: Recorder, data: dict) -> None:
    n, image, docker = rec.name, data["image"], data["docker"]
    mt = {"Content-Type": OCI_MANIFEST}
    rec("missing-blobs", "PUT", f"/v2/{n}/manifests/v1", data=image.manifest, headers=mt)
    Client(rec.client.base).push_blobs(rec.name, image)
    rec("by-tag", "PUT", f"/v2/{n}/manifests/v1", data=image.manifest, headers=mt)
    rec("wrong-digest", "PUT", f"/v2/{n}/manifests/{sha256(b'z')}", data=image.manifest, headers=mt)
    rec("by-digest", "PUT", f"/v2/{n}/manifests/{image.digest}", data=image.manifest, headers=mt)
    rec("get-tag", "GET", f"/v2/{n}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    rec(
        "head-digest", "HEAD", f"/v2/{n}/manifests/{image.digest}", headers={"Accept": OCI_MANIFEST}
    )
    rec(
        "get-tag-accept-list",
        "GET",
        f"/v2/{n}/manifests/v1",
        headers={"Accept": f"{DOCKER_MANIFEST}, {OCI_INDEX};q=0.5, {OCI_MANIFEST};q=0.9"},
    )
    rec("manifest-as-blob", "HEAD", f"/v2/{n}/blobs/{image.digest}")
    rec("get-tag-no-accept", "GET", f"/v2/{n}/manifests/v1")
    rec("get-tag-not-accepted", "GET", f"/v2/{n}/manifests/v1",
        headers={"Accept": DOCKER_MANIFEST})  # fmt: skip
    rec("get-missing", "GET", f"/v2/{n}/manifests/nope")
    rec("head-missing", "HEAD", f"/v2/{n}/manifests/nope")
    rec("not-json", "PUT", f"/v2/{n}/manifests/v2", data=b"{oops", headers=mt)
    rec("media-type-mismatch", "PUT", f"/v2/{n}/manifests/v3", data=image.manifest,
        headers={"Content-Type": OCI_INDEX})  # fmt: skip
    rec("several-tags", "PUT", f"/v2/{n}/manifests/{image.digest}",
        params=[("tag", "t1"), ("tag", "t2")], data=image.manifest, headers=mt)  # fmt: skip
    rec("tags-after-several", "GET", f"/v2/{n}/tags/list")
    big = json.loads(image.manifest)
    big["annotations"] = {"pad": "x" * (4 * 1024 * 1024 + 10)}
    rec("too-large", "PUT", f"/v2/{n}/manifests/big", data=json.dumps(big).encode(), headers=mt)
    Client(rec.client.base).push_blobs(rec.name, docker)
    dmt = {"Content-Type": DOCKER_MANIFEST}
    rec("docker", "PUT", f"/v2/{n}/manifests/docker", data=docker.manifest, headers=dmt)
    rec("get-docker", "GET", f"/v2/{n}/manifests/docker", headers={"Accept": DOCKER_MANIFEST})
    platform = {"architecture": "amd64", "os": "linux"}
    listing = index_of([descriptor(DOCKER_MANIFEST, docker.manifest, platform=platform)],
                       media_type=DOCKER_LIST)  # fmt: skip
    rec("docker-list", "PUT", f"/v2/{n}/manifests/list", data=listing,
        headers={"Content-Type": DOCKER_LIST})  # fmt: skip
    oci_index = index_of([descriptor(OCI_MANIFEST, image.manifest, platform=platform)])
    rec("oci-index", "PUT", f"/v2/{n}/manifests/index", data=oci_index,
        headers={"Content-Type": OCI_INDEX})  # fmt: skip
    rec("get-index", "GET", f"/v2/{n}/manifests/index", headers={"Accept": OCI_INDEX})
    ghost = index_of([descriptor(OCI_MANIFEST, b"{}")])
    rec("index-missing-child", "PUT", f"/v2/{n}/manifests/ghost", data=ghost,
        headers={"Content-Type": OCI_INDEX})  # fmt: skip


def scenario_tags(rec: Recorder, data: dict) -> None:
    n, image = rec.name, data["image"]
    Client(rec.client.base).push_blobs(rec.name, image)
    for tag in ("b", "a", "c", "B", "d1", "d10", "d2"):
        Client(rec.client.base).push_manifest(n, tag, image.manifest)
    r = rec("all", "GET", f"/v2/{n}/tags/list")
    rec.note("all-body", r.json())
    r = rec("page-1", "GET", f"/v2/{n}/tags/list", params={"n": "3"})
    rec.note("page-1-body", r.json()["tags"])
    rec.note("page-1-link", "Link" in r.headers)
    r = rec("page-2", "GET", f"/v2/{n}/tags/list", params={"n": "3", "last": "b"})
    rec.note("page-2-body", r.json()["tags"])
    r = rec("last-only", "GET", f"/v2/{n}/tags/list", params={"last": "d1"})
    rec.note("last-only-body", r.json()["tags"])
    rec("unknown-repo", "GET", f"/v2/{n}-ghost/tags/list")
    rec("n-bad", "GET", f"/v2/{n}/tags/list", params={"n": "x"})


def scenario_delete(rec: Recorder, data: dict) -> None:
    n, image = rec.name, data["image"]
    client = Client(rec.client.base)
    client.push_image(n, "v1", image)
    layer = sha256(image.layers[0])
    rec("blob-in-use", "DELETE", f"/v2/{n}/blobs/{sha256(image.layers[1])}")
    rec("manifest", "DELETE", f"/v2/{n}/manifests/{image.digest}")
    rec("get-deleted", "GET", f"/v2/{n}/manifests/{image.digest}")
    rec("get-deleted-tag", "GET", f"/v2/{n}/manifests/v1")
    rec("manifest-again", "DELETE", f"/v2/{n}/manifests/{image.digest}")
    rec("blob", "DELETE", f"/v2/{n}/blobs/{layer}")
    rec("get-deleted-blob", "GET", f"/v2/{n}/blobs/{layer}")
    rec("blob-again", "DELETE", f"/v2/{n}/blobs/{layer}")
    client.push_image(n, "v2", data["image2"])
    rec("tag", "DELETE", f"/v2/{n}/manifests/v2")
    rec("get-deleted-tag-2", "GET", f"/v2/{n}/manifests/v2", headers={"Accept": OCI_MANIFEST})
    r = rec("tags-after", "GET", f"/v2/{n}/tags/list")
    rec.note("tags-after-body", r.json()["tags"])


def scenario_errors(rec: Recorder, data: dict) -> None:
    n = rec.name
    rec("missing-blob", "GET", f"/v2/{n}/blobs/{sha256(b'missing')}")
    rec("missing-blob-head", "HEAD", f"/v2/{n}/blobs/{sha256(b'missing')}")
    rec("unknown-upload", "GET", f"/v2/{n}/blobs/uploads/{uuid.uuid4()}")
    rec("invalid-name", "GET", "/v2/In-Valid/tags/list")
    rec("invalid-digest", "GET", f"/v2/{n}/blobs/sha256:abc")


def scenario_sha512(rec: Recorder, data: dict) -> None:
    n, blob = rec.name, data["blob"]
    rec("post", "POST", f"/v2/{n}/blobs/uploads/", params={"digest": sha512(blob)}, data=blob,
        headers=OCTETS)  # fmt: skip
    rec("get", "HEAD", f"/v2/{n}/blobs/{sha512(blob)}")


def scenario_referrers(rec: Recorder, data: dict) -> None:
    n, image = rec.name, data["image"]
    client = Client(rec.client.base)
    client.push_image(n, "v1", image)
    sig = artifact(image, "application/vnd.example.sig", b"signature")
    client.push_blob(n, sig.config)
    client.push_blob(n, sig.layers[0])
    rec("push-referrer", "PUT", f"/v2/{n}/manifests/{sig.digest}", data=sig.manifest,
        headers={"Content-Type": OCI_MANIFEST})  # fmt: skip
    rec("list", "GET", f"/v2/{n}/referrers/{image.digest}")


SCENARIOS: dict[str, Callable[[Recorder, dict], None]] = {
    "base": scenario_base,
    "upload": scenario_upload,
    "mount": scenario_mount,
    "manifest-put": scenario_manifest_put,
    "tags": scenario_tags,
    "delete": scenario_delete,
    "errors": scenario_errors,
    "sha512": scenario_sha512,
    "referrers": scenario_referrers,
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_same_answers_as_distribution(server, peer, scenario):
    data = {"blob": os.urandom(5000), "other": os.urandom(300),
            "image": random_image(layers=2), "image2": random_image(layers=1),
            "docker": docker_image()}  # fmt: skip
    name = f"diff/{scenario}/{os.urandom(3).hex()}"
    ours, theirs = Recorder(server.url, name), Recorder(peer, name)
    SCENARIOS[scenario](ours, data)
    SCENARIOS[scenario](theirs, data)
    assert list(ours.steps) == list(theirs.steps)
    mismatched, stale = [], []
    for step, seen in ours.steps.items():
        expected_difference = (scenario, step) in DIFFERENCES
        if seen != theirs.steps[step] and not expected_difference:
            mismatched.append((step, {"zot-server": seen, "distribution": theirs.steps[step]}))
        if seen == theirs.steps[step] and expected_difference:
            stale.append(step)
    assert not mismatched, json.dumps(mismatched, indent=1)
    assert not stale, f"listed as differences but now agree: {stale}"
