"""OCI Distribution Spec v1.1, Push: blob uploads of every kind, over real HTTP.

Monolithic (POST then PUT, single POST with ``?digest=``), chunked PATCH with Content-Range
(416 out of order), streamed PATCH without Content-Range (also with Transfer-Encoding:
chunked), upload status, cancel, cross-repository mount (201, and the 202 fallback), sha256
and sha512, and DIGEST_INVALID on a mismatch.
"""

from __future__ import annotations

import os

import pytest
from oci import (
    OCTETS,
    Client,
    error_codes,
    location,
    sha256,
    sha512,
    start_upload,
    unique,
)


def assert_blob(client: Client, name: str, data: bytes, digest: str | None = None) -> None:
    digest = digest or sha256(data)
    r = client.http.get(client.url(f"/v2/{name}/blobs/{digest}"))
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.content == data
    assert r.headers["Docker-Content-Digest"] == digest


def assert_created(client: Client, r, name: str, digest: str) -> None:
    assert r.status_code == 201, (r.status_code, r.text)
    assert location(client, r).endswith(f"/v2/{name}/blobs/{digest}")
    assert r.headers["Docker-Content-Digest"] == digest


def test_post_then_put(client):
    name, data = unique("push"), os.urandom(10_000)
    session = start_upload(client, name)
    assert "/blobs/uploads/" in session
    r = client.http.put(session, params={"digest": sha256(data)}, data=data, headers=OCTETS)
    assert_created(client, r, name, sha256(data))
    assert_blob(client, name, data)


def test_post_answers_session_headers(client):
    name = unique("push")
    r = client.http.post(client.url(f"/v2/{name}/blobs/uploads/"))
    assert r.status_code == 202
    assert r.headers["Location"]
    assert r.headers["Range"] == "0-0"
    assert r.headers["Docker-Upload-UUID"] in r.headers["Location"]
    assert int(r.headers["Content-Length"]) == 0


def test_single_post_with_digest(client):
    name, data = unique("push"), os.urandom(5000)
    r = client.http.post(
        client.url(f"/v2/{name}/blobs/uploads/"),
        params={"digest": sha256(data)},
        data=data,
        headers=OCTETS,
    )
    assert_created(client, r, name, sha256(data))
    assert_blob(client, name, data)


def test_upload_path_without_trailing_slash(client):
    name, data = unique("push"), os.urandom(100)
    r = client.http.post(
        client.url(f"/v2/{name}/blobs/uploads"), params={"digest": sha256(data)}, data=data,
        headers=OCTETS, allow_redirects=False,
    )  # fmt: skip
    assert_created(client, r, name, sha256(data))


def test_chunked_upload_with_content_range(client):
    name, data = unique("push"), os.urandom(3 * 70_000 + 11)
    session = start_upload(client, name)
    chunks = [data[i : i + 70_000] for i in range(0, len(data), 70_000)]
    offset = 0
    for chunk in chunks[:-1]:
        end = offset + len(chunk) - 1
        headers = {"Content-Range": f"{offset}-{end}", "Content-Length": str(len(chunk))}
        r = client.http.patch(session, data=chunk, headers={**OCTETS, **headers})
        assert r.status_code == 202, (r.status_code, r.text)
        assert r.headers["Range"] == f"0-{end}"
        session = location(client, r)
        offset = end + 1
    last = chunks[-1]
    r = client.http.put(
        session, params={"digest": sha256(data)}, data=last,
        headers={**OCTETS, "Content-Range": f"{offset}-{offset + len(last) - 1}"},
    )  # fmt: skip
    assert_created(client, r, name, sha256(data))
    assert_blob(client, name, data)


def test_chunk_out_of_order_is_416_and_session_survives(client):
    name, data = unique("push"), os.urandom(200)
    session = start_upload(client, name)
    r = client.http.patch(session, data=data[100:], headers={**OCTETS, "Content-Range": "100-199"})
    assert r.status_code == 416
    assert error_codes(r) == ["BLOB_UPLOAD_INVALID"]
    r = client.http.patch(session, data=data[:100], headers={**OCTETS, "Content-Range": "0-99"})
    assert r.status_code == 202
    # Overlapping the bytes already received is out of order as well.
    r = client.http.patch(session, data=data[50:], headers={**OCTETS, "Content-Range": "50-199"})
    assert r.status_code == 416
    assert r.headers["Range"] == "0-99"
    r = client.http.put(
        session, params={"digest": sha256(data)}, data=data[100:],
        headers={**OCTETS, "Content-Range": "100-199"},
    )  # fmt: skip
    assert_created(client, r, name, sha256(data))
    assert_blob(client, name, data)


def test_content_range_disagreeing_with_length_is_rejected(client):
    name = unique("push")
    session = start_upload(client, name)
    r = client.http.patch(session, data=b"x" * 10, headers={**OCTETS, "Content-Range": "0-19"})
    assert r.status_code in (400, 416)
    assert error_codes(r)[0] in ("BLOB_UPLOAD_INVALID", "SIZE_INVALID")
    r = client.http.get(session)
    assert r.status_code == 204 and r.headers["Range"] == "0-0"


def test_streamed_patch_without_content_range(client):
    """conformance 02 "Blob Upload Streamed": PATCH the whole body, then PUT with no body."""
    name, data = unique("push"), os.urandom(300_000)
    session = start_upload(client, name)
    r = client.http.patch(session, data=data, headers=OCTETS)
    assert r.status_code == 202
    assert r.headers["Range"] == f"0-{len(data) - 1}"
    r = client.http.put(location(client, r), params={"digest": sha256(data)}, headers=OCTETS)
    assert_created(client, r, name, sha256(data))
    assert_blob(client, name, data)


def test_streamed_patch_with_transfer_encoding_chunked(client):
    """A body of unknown length (Transfer-Encoding: chunked) must arrive whole, not empty."""
    name = unique("push")
    parts = [os.urandom(65_536) for _ in range(5)]
    data = b"".join(parts)
    session = start_upload(client, name)
    r = client.http.patch(session, data=iter(parts), headers=OCTETS)
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 202
    assert r.headers["Range"] == f"0-{len(data) - 1}"
    # The closing PUT streams too.
    r = client.http.put(
        location(client, r), params={"digest": sha256(data + b"tail")}, data=iter([b"ta", b"il"]),
        headers=OCTETS,
    )  # fmt: skip
    assert_created(client, r, name, sha256(data + b"tail"))
    assert_blob(client, name, data + b"tail")


def test_upload_status_reports_offset(client):
    name = unique("push")
    session = start_upload(client, name)
    r = client.http.get(session)
    assert r.status_code == 204
    assert r.headers["Range"] == "0-0"
    assert location(client, r) == session
    client.http.patch(session, data=b"a" * 1234, headers=OCTETS)
    r = client.http.get(session)
    assert r.status_code == 204
    assert r.headers["Range"] == "0-1233"


def test_cancel_upload(client):
    name = unique("push")
    session = start_upload(client, name)
    client.http.patch(session, data=b"partial", headers=OCTETS)
    r = client.http.delete(session)
    assert r.status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        r = client.http.request(method, session, data=b"x", headers=OCTETS)
        assert r.status_code == 404, method
        assert error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]


def test_unknown_session_is_404(client):
    name = unique("push")
    for session_id in ("0" * 32, "not-a-session"):
        r = client.http.get(client.url(f"/v2/{name}/blobs/uploads/{session_id}"))
        assert r.status_code == 404, session_id
        assert error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]
    # An encoded traversal decodes to a path no route matches: 404 with an OCI body.
    r = client.http.get(client.url(f"/v2/{name}/blobs/uploads/..%2F..%2F..%2Fetc"))
    assert r.status_code == 404
    assert error_codes(r)


def test_digest_mismatch_is_digest_invalid_and_stores_nothing(client):
    name, data = unique("push"), os.urandom(1000)
    wrong = sha256(b"something else")
    session = start_upload(client, name)
    r = client.http.put(session, params={"digest": wrong}, data=data, headers=OCTETS)
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]
    for digest in (wrong, sha256(data)):
        assert client.http.head(client.url(f"/v2/{name}/blobs/{digest}")).status_code == 404
    r = client.http.post(
        client.url(f"/v2/{name}/blobs/uploads/"), params={"digest": wrong}, data=data,
        headers=OCTETS,
    )  # fmt: skip
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]
    assert client.http.head(client.url(f"/v2/{name}/blobs/{wrong}")).status_code == 404


def test_put_without_digest_is_rejected(client):
    name = unique("push")
    session = start_upload(client, name)
    r = client.http.put(session, data=b"abc", headers=OCTETS)
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "0" * 32, "sha256:" + "G" * 64])
def test_malformed_or_unsupported_digest_is_400(client, server, digest):
    name = unique("push")
    r = client.http.post(
        client.url(f"/v2/{name}/blobs/uploads/"), params={"digest": digest}, data=b"x",
        headers=OCTETS,
    )  # fmt: skip
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]
    assert not (server.root / name).exists()  # not even an upload session was left behind


def test_retried_chunk_is_416_and_stale_location_still_reports_progress(client):
    """conformance 02 "Blob Upload Chunked": re-sending chunk 1 to the first Location is out of
    order; a GET on that Location answers 204 with the Range so far."""
    name, data = unique("push"), os.urandom(2048)
    first = start_upload(client, name)
    r = client.http.patch(first, data=data[:1024], headers={**OCTETS, "Content-Range": "0-1023"})
    assert r.status_code == 202 and r.headers["Range"] == "0-1023"
    latest = location(client, r)
    r = client.http.patch(first, data=data[:1024], headers={**OCTETS, "Content-Range": "0-1023"})
    assert r.status_code == 416
    r = client.http.get(first)
    assert r.status_code == 204 and r.headers["Range"] == "0-1023" and r.headers["Location"]
    r = client.http.patch(
        latest, data=data[1024:], headers={**OCTETS, "Content-Range": "1024-2047"}
    )
    assert r.status_code == 202
    r = client.http.put(location(client, r), params={"digest": sha256(data)},
                        headers={**OCTETS, "Content-Length": "0"})  # fmt: skip
    assert_created(client, r, name, sha256(data))


def test_closed_session_and_other_repositories_sessions_are_unknown(client):
    name, data = unique("push"), os.urandom(64)
    session = start_upload(client, name)
    elsewhere = session.replace(f"/v2/{name}/", f"/v2/{unique('push')}/")
    r = client.http.patch(elsewhere, data=data, headers=OCTETS)
    assert r.status_code == 404 and error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]
    r = client.http.put(session, params={"digest": sha256(data)}, data=data, headers=OCTETS)
    assert r.status_code == 201
    r = client.http.put(session, params={"digest": sha256(data)}, data=data, headers=OCTETS)
    assert r.status_code == 404 and error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]


def test_sha512_blobs(client):
    name, data = unique("push"), os.urandom(70_000)
    digest = sha512(data)
    r = client.http.post(
        client.url(f"/v2/{name}/blobs/uploads/"), params={"digest": digest}, data=data,
        headers=OCTETS,
    )  # fmt: skip
    assert_created(client, r, name, digest)
    assert_blob(client, name, data, digest)
    # Chunked, with the digest only at the end.
    other = os.urandom(50_000)
    session = start_upload(client, name)
    r = client.http.patch(
        session, data=other[:20_000], headers={**OCTETS, "Content-Range": "0-19999"}
    )
    assert r.status_code == 202
    r = client.http.put(location(client, r), params={"digest": sha512(other)}, data=other[20_000:],
                        headers=OCTETS)  # fmt: skip
    assert_created(client, r, name, sha512(other))
    assert_blob(client, name, other, sha512(other))
    r = client.http.head(client.url(f"/v2/{name}/blobs/{sha512(other)}"))
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(other)


def test_mount_from_another_repository(client):
    source, target, data = unique("mount"), unique("mount"), os.urandom(2000)
    digest = client.push_blob(source, data)
    r = client.http.post(
        client.url(f"/v2/{target}/blobs/uploads/"), params={"mount": digest, "from": source}
    )
    assert_created(client, r, target, digest)
    assert_blob(client, target, data)


def test_mount_of_missing_blob_falls_back_to_upload_session(client):
    source, target, data = unique("mount"), unique("mount"), os.urandom(2000)
    client.push_blob(source, os.urandom(10))  # the source exists, the blob does not
    r = client.http.post(
        client.url(f"/v2/{target}/blobs/uploads/"), params={"mount": sha256(data), "from": source}
    )
    assert r.status_code == 202
    session = location(client, r)
    r = client.http.put(session, params={"digest": sha256(data)}, data=data, headers=OCTETS)
    assert_created(client, r, target, sha256(data))
    # Without a from= the registry may still only answer 202.
    r = client.http.post(client.url(f"/v2/{target}/blobs/uploads/"), params={"mount": sha256(b"z")})
    assert r.status_code == 202


def test_identical_concurrent_uploads_both_succeed(client):
    """Layer upload de-duplication (spec, Use Cases): both uploads of one layer succeed."""
    name, data = unique("push"), os.urandom(4096)
    first, second = start_upload(client, name), start_upload(client, name)
    assert first != second
    for session in (first, second):
        r = client.http.put(session, params={"digest": sha256(data)}, data=data, headers=OCTETS)
        assert_created(client, r, name, sha256(data))
    assert_blob(client, name, data)


def test_empty_blob(client):
    name = unique("push")
    digest = client.push_blob(name, b"")
    r = client.http.get(client.url(f"/v2/{name}/blobs/{digest}"))
    assert r.status_code == 200 and r.content == b""


def test_chunks_on_separate_connections_cross_workers(server):
    """Each PATCH on a fresh connection, so chunks of one upload reach different workers."""
    import requests

    name, data = unique("push"), os.urandom(6 * 40_000)
    session = start_upload(Client(server.url), name)
    for offset in range(0, len(data), 40_000):
        chunk = data[offset : offset + 40_000]
        with requests.Session() as fresh:
            headers = {**OCTETS, "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}
            r = fresh.patch(session, data=chunk, headers=headers)
            assert r.status_code == 202, r.text
    for digest in (sha256(data), sha512(data)):
        other = start_upload(Client(server.url), name)
        with requests.Session() as fresh:
            r = fresh.patch(other, data=data, headers=OCTETS)
            assert r.status_code == 202
        with requests.Session() as fresh:
            r = fresh.put(other, params={"digest": digest}, headers=OCTETS)
        assert r.status_code == 201, r.text
    with requests.Session() as fresh:
        r = fresh.put(session, params={"digest": sha256(data)}, headers=OCTETS)
    assert r.status_code == 201, r.text
    assert_blob(Client(server.url), name, data)
    assert_blob(Client(server.url), name, data, sha512(data))


def test_manifest_body_sent_chunked(client):
    from oci import random_image

    name, image = unique("push"), random_image(layers=1)
    client.push_blob(name, image.config)
    client.push_blob(name, image.layers[0])
    half = len(image.manifest) // 2
    r = client.http.put(
        client.url(f"/v2/{name}/manifests/v1"),
        data=iter([image.manifest[:half], image.manifest[half:]]),
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 201, r.text
    assert client.http.get(client.url(f"/v2/{name}/manifests/v1")).content == image.manifest
