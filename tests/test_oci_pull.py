"""OCI Distribution Spec v1.1, Pull: manifests by tag and digest, blobs, HEAD, 404s, Range.

Every request goes over a real socket to a server process; repository names have several
``/`` segments throughout.
"""

from __future__ import annotations

import pytest
from oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    Client,
    error_codes,
    random_image,
    sha256,
    unique,
)

MISSING = "sha256:" + "0" * 64


@pytest.fixture(scope="module")
def pulled(server):
    """One image pushed once; the pull tests only read it."""
    client = Client(server.url)
    name = unique("pull")
    image = random_image(layers=2, size=4096)
    client.push_image(name, "v1", image)
    return client, name, image


def test_base_endpoint_answers_200_with_version_header(server):
    r = Client(server.url).http.get(server.url + "/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_get_manifest_by_tag(pulled):
    client, name, image = pulled
    r = client.http.get(client.url(f"/v2/{name}/manifests/v1"), headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200
    assert r.content == image.manifest
    assert r.headers["Content-Type"] == OCI_MANIFEST
    assert r.headers["Docker-Content-Digest"] == image.digest
    assert int(r.headers["Content-Length"]) == len(image.manifest)


def test_get_manifest_by_digest(pulled):
    client, name, image = pulled
    r = client.http.get(client.url(f"/v2/{name}/manifests/{image.digest}"))
    assert r.status_code == 200
    assert sha256(r.content) == image.digest
    assert r.headers["Docker-Content-Digest"] == image.digest


def test_head_manifest_by_tag_and_digest(pulled):
    client, name, image = pulled
    for reference in ("v1", image.digest):
        r = client.http.head(
            client.url(f"/v2/{name}/manifests/{reference}"), headers={"Accept": OCI_MANIFEST}
        )
        assert r.status_code == 200, reference
        assert r.content == b""
        assert r.headers["Docker-Content-Digest"] == image.digest
        assert int(r.headers["Content-Length"]) == len(image.manifest)
        assert r.headers["Content-Type"] == OCI_MANIFEST


def test_manifest_not_in_accept_header_is_not_served_by_tag(pulled):
    """content-negotiation.md: a tag whose type the client does not accept is not served."""
    client, name, _ = pulled
    r = client.http.get(client.url(f"/v2/{name}/manifests/v1"), headers={"Accept": OCI_INDEX})
    assert r.status_code == 404
    assert error_codes(r) == ["MANIFEST_UNKNOWN"]


def test_missing_manifest_is_404(pulled):
    client, name, _ = pulled
    for reference in ("no-such-tag", MISSING):
        r = client.http.get(client.url(f"/v2/{name}/manifests/{reference}"))
        assert r.status_code == 404, reference
        assert error_codes(r) == ["MANIFEST_UNKNOWN"]
        r = client.http.head(client.url(f"/v2/{name}/manifests/{reference}"))
        assert r.status_code == 404 and r.content == b""


def test_manifest_of_unknown_repository_is_404(server):
    client = Client(server.url)
    r = client.http.get(client.url(f"/v2/{unique('nowhere')}/manifests/latest"))
    assert r.status_code == 404
    assert error_codes(r)[0] in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN")


def test_get_and_head_blob(pulled):
    client, name, image = pulled
    for blob in (image.config, *image.layers):
        digest = sha256(blob)
        r = client.http.get(client.url(f"/v2/{name}/blobs/{digest}"))
        assert r.status_code == 200
        assert r.content == blob
        assert r.headers["Docker-Content-Digest"] == digest
        r = client.http.head(client.url(f"/v2/{name}/blobs/{digest}"))
        assert r.status_code == 200 and r.content == b""
        assert int(r.headers["Content-Length"]) == len(blob)
        assert r.headers["Docker-Content-Digest"] == digest


def test_missing_blob_is_404(pulled):
    client, name, _ = pulled
    r = client.http.get(client.url(f"/v2/{name}/blobs/{MISSING}"))
    assert r.status_code == 404
    assert error_codes(r) == ["BLOB_UNKNOWN"]
    r = client.http.head(client.url(f"/v2/{name}/blobs/{MISSING}"))
    assert r.status_code == 404 and r.content == b""


def test_blob_of_another_repository_is_not_served(pulled, server):
    """Blobs are scoped to their repository: another name does not see them."""
    client, _, image = pulled
    r = client.http.get(client.url(f"/v2/{unique('other')}/blobs/{sha256(image.layers[0])}"))
    assert r.status_code == 404


@pytest.mark.parametrize(
    "header, start, end",
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, 4095), ("bytes=-10", 4086, 4095),
     ("bytes=4000-9999", 4000, 4095)],
)  # fmt: skip
def test_range_request_answers_206(pulled, header, start, end):
    client, name, image = pulled
    blob = image.layers[0]
    r = client.http.get(client.url(f"/v2/{name}/blobs/{sha256(blob)}"), headers={"Range": header})
    assert r.status_code == 206
    assert r.content == blob[start : end + 1]
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(blob)}"
    assert int(r.headers["Content-Length"]) == end - start + 1


@pytest.mark.parametrize("header", ["bytes=4096-", "bytes=10-5", "bytes=-0", "lines=1-2"])
def test_unsatisfiable_range_is_416(pulled, header):
    client, name, image = pulled
    blob = image.layers[0]
    r = client.http.get(client.url(f"/v2/{name}/blobs/{sha256(blob)}"), headers={"Range": header})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(blob)}"
    assert error_codes(r)


def test_malformed_digest_on_pull_is_400_with_oci_body(pulled):
    """conformance 01: a bad reference gets 400 (or 404) with a spec error code."""
    client, name, _ = pulled
    r = client.http.get(
        client.url(f"/v2/{name}/manifests/sha256:totallywrong"),
        headers={"Content-Type": OCI_MANIFEST},
        data=b"{}",
    )
    assert r.status_code in (400, 404)
    if r.status_code == 400:
        assert error_codes(r)[0] in ("DIGEST_INVALID", "MANIFEST_INVALID", "NAME_INVALID")
    r = client.http.get(client.url(f"/v2/{name}/blobs/sha256:short"))
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]
