"""OCI Distribution Spec v1.1, Content Discovery and Content Management, and the spec's
error codes: tags/list and _catalog with n/last and Link, referrers (artifactType filter,
OCI-Filters-Applied, empty index), the legacy ORAS path, deleting tags, manifests, blobs.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    Client,
    artifact,
    descriptor,
    error_codes,
    index_of,
    random_image,
    sha256,
    unique,
)

SIG = "application/vnd.example.signature"
SBOM = "application/vnd.example.sbom"


def push_artifact(client: Client, name: str, art) -> None:
    client.push_blobs(name, art)
    r = client.push_manifest(name, art.digest, art.manifest)
    assert r.status_code == 201, r.text


def next_link(r) -> tuple[str, dict[str, list[str]]] | None:
    link = r.headers.get("Link")
    if link is None:
        return None
    target = link.split(";")[0].strip()
    assert target.startswith("<") and target.endswith(">") and 'rel="next"' in link, link
    url = urlparse(target[1:-1])
    return url.path, parse_qs(url.query)


@pytest.fixture(scope="module")
def tagged(server):
    client = Client(server.url)
    name = unique("disc")
    image = random_image(layers=1)
    client.push_image(name, "seed", image)
    tags = ["seed", "B", "a", "v1.0", "v1.1", "v10", "v2", "z_last", "0-first", "Alpha"]
    for tag in tags[1:]:
        assert client.push_manifest(name, tag, image.manifest).status_code == 201
    return client, name, sorted(tags)


def test_tags_list_is_sorted(tagged):
    client, name, expected = tagged
    r = client.http.get(client.url(f"/v2/{name}/tags/list"))
    assert r.status_code == 200
    assert r.json() == {"name": name, "tags": expected}
    assert "Link" not in r.headers


def test_tags_list_pages_with_n_last_and_link(tagged):
    client, name, expected = tagged
    seen: list[str] = []
    path, query = f"/v2/{name}/tags/list", {"n": ["3"]}
    for _ in range(10):  # bounded: 10 tags in pages of 3 take 4 requests
        r = client.http.get(client.url(path), params={k: v[0] for k, v in query.items()})
        assert r.status_code == 200
        page = r.json()["tags"]
        assert len(page) <= 3
        seen.extend(page)
        link = next_link(r)
        if link is None:
            break
        path, query = link
        assert path == f"/v2/{name}/tags/list"
    assert seen == expected


def test_tags_list_n_zero_and_last(tagged):
    client, name, expected = tagged
    r = client.http.get(client.url(f"/v2/{name}/tags/list"), params={"n": "0"})
    assert r.status_code == 200 and r.json()["tags"] == [] and "Link" not in r.headers
    r = client.http.get(client.url(f"/v2/{name}/tags/list"), params={"last": expected[4]})
    assert r.json()["tags"] == expected[5:]
    r = client.http.get(client.url(f"/v2/{name}/tags/list"), params={"n": "2", "last": expected[1]})
    assert r.json()["tags"] == expected[2:4]
    r = client.http.get(client.url(f"/v2/{name}/tags/list"), params={"n": "100"})
    assert r.json()["tags"] == expected and "Link" not in r.headers


def test_tags_list_bad_n_is_400(tagged):
    client, name, _ = tagged
    r = client.http.get(client.url(f"/v2/{name}/tags/list"), params={"n": "-1"})
    assert r.status_code == 400
    assert error_codes(r)


def test_tags_list_of_unknown_repository_is_404(client):
    r = client.http.get(client.url(f"/v2/{unique('ghost')}/tags/list"))
    assert r.status_code == 404
    assert error_codes(r) == ["NAME_UNKNOWN"]


def test_catalog_lists_repositories_with_n_last(make_server, tmp_path):
    """A server of its own, so the catalog holds exactly what this test pushed."""
    running = make_server(tmp_path / "catalog")
    client = Client(running.url)
    names = sorted(["a/b/c", "a/b", "lib/x", "z", "m-1/n_2/o.3"])
    image = random_image(layers=1)
    for name in names:
        client.push_image(name, "t", image)
    r = client.http.get(client.url("/v2/_catalog"))
    assert r.status_code == 200
    assert r.json() == {"repositories": names}
    r = client.http.get(client.url("/v2/_catalog"), params={"n": "2"})
    assert r.json()["repositories"] == names[:2]
    path, query = next_link(r)
    assert path == "/v2/_catalog" and query["last"] == [names[1]]
    r = client.http.get(client.url("/v2/_catalog"), params={"n": "2", "last": names[1]})
    assert r.json()["repositories"] == names[2:4]
    r = client.http.get(client.url("/v2/_catalog"), params={"last": names[3]})
    assert r.json()["repositories"] == names[4:]


@pytest.fixture(scope="module")
def referred(server):
    """A subject with a signature, an SBOM (annotated) and an index referrer."""
    client = Client(server.url)
    name = unique("refs")
    subject = random_image(layers=1)
    client.push_image(name, "app", subject)
    sig = artifact(subject, SIG, b"sig-bytes")
    sbom = artifact(subject, SBOM, b'{"sbom": 1}', annotations={"org.example.kind": "sbom"})
    push_artifact(client, name, sig)
    push_artifact(client, name, sbom)
    bundle = index_of(
        [descriptor(OCI_MANIFEST, sig.manifest)],
        artifactType="application/vnd.example.bundle",
        subject=descriptor(OCI_MANIFEST, subject.manifest),
    )
    r = client.push_manifest(name, sha256(bundle), bundle, media_type=OCI_INDEX)
    assert r.status_code == 201 and r.headers["OCI-Subject"] == subject.digest
    return client, name, subject, sig, sbom, bundle


def test_referrers_lists_every_referrer(referred):
    client, name, subject, sig, sbom, bundle = referred
    r = client.http.get(client.url(f"/v2/{name}/referrers/{subject.digest}"))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    body = r.json()
    assert body["schemaVersion"] == 2 and body["mediaType"] == OCI_INDEX
    found = {d["digest"]: d for d in body["manifests"]}
    assert set(found) == {sig.digest, sbom.digest, sha256(bundle)}
    assert found[sig.digest] == {
        "mediaType": OCI_MANIFEST, "digest": sig.digest, "size": len(sig.manifest),
        "artifactType": SIG,
    }  # fmt: skip
    assert found[sbom.digest]["annotations"] == {"org.example.kind": "sbom"}
    assert found[sha256(bundle)]["mediaType"] == OCI_INDEX
    assert found[sha256(bundle)]["artifactType"] == "application/vnd.example.bundle"
    assert "OCI-Filters-Applied" not in r.headers


def test_referrers_filter_by_artifact_type(referred):
    client, name, subject, sig, _, _ = referred
    r = client.http.get(
        client.url(f"/v2/{name}/referrers/{subject.digest}"), params={"artifactType": SIG}
    )
    assert r.status_code == 200
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in r.json()["manifests"]] == [sig.digest]
    r = client.http.get(
        client.url(f"/v2/{name}/referrers/{subject.digest}"),
        params={"artifactType": "application/vnd.none"},
    )
    assert r.status_code == 200 and r.json()["manifests"] == []


def test_referrers_artifact_type_falls_back_to_config_media_type(client):
    """image-spec: a manifest without artifactType reports its config's mediaType."""
    name, subject = unique("refs"), random_image(layers=1)
    client.push_image(name, "app", subject)
    old_style = random_image(layers=1, subject=descriptor(OCI_MANIFEST, subject.manifest))
    doc = json.loads(old_style.manifest)
    client.push_image(name, "old", old_style)
    r = client.http.get(client.url(f"/v2/{name}/referrers/{subject.digest}"))
    [entry] = r.json()["manifests"]
    assert entry["artifactType"] == doc["config"]["mediaType"]


def test_index_referrer_without_artifact_type_omits_it(client):
    """v1.1 referrers: an index without artifactType has none in its descriptor."""
    name, subject, child = unique("refs"), random_image(layers=1), random_image(layers=1)
    client.push_image(name, "app", subject)
    client.push_image(name, "child", child)
    body = index_of([descriptor(OCI_MANIFEST, child.manifest)],
                    subject=descriptor(OCI_MANIFEST, subject.manifest))  # fmt: skip
    assert client.push_manifest(name, sha256(body), body, media_type=OCI_INDEX).status_code == 201
    r = client.http.get(client.url(f"/v2/{name}/referrers/{subject.digest}"))
    assert r.json()["manifests"] == [
        {"mediaType": OCI_INDEX, "digest": sha256(body), "size": len(body)}
    ]


def test_referrers_of_unknown_subject_is_an_empty_index(referred):
    client, name, *_ = referred
    for repo in (name, unique("nothing")):
        r = client.http.get(client.url(f"/v2/{repo}/referrers/{sha256(b'nobody')}"))
        assert r.status_code == 200
        assert r.headers["Content-Type"] == OCI_INDEX
        assert r.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def test_referrers_with_malformed_digest_is_400(referred):
    client, name, *_ = referred
    r = client.http.get(client.url(f"/v2/{name}/referrers/sha256:nope"))
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]


def test_referrer_deleted_leaves_the_list(client):
    name, subject = unique("refs"), random_image(layers=1)
    client.push_image(name, "app", subject)
    sig = artifact(subject, SIG, b"s")
    push_artifact(client, name, sig)
    assert client.http.delete(client.url(f"/v2/{name}/manifests/{sig.digest}")).status_code == 202
    r = client.http.get(client.url(f"/v2/{name}/referrers/{subject.digest}"))
    assert r.json()["manifests"] == []


def test_legacy_oras_referrers_path(referred):
    client, name, subject, sig, sbom, bundle = referred
    r = client.http.get(
        client.url(f"/oras/artifacts/v1/{name}/manifests/{subject.digest}/referrers")
    )
    assert r.status_code == 200
    found = {d["digest"] for d in r.json()["references"]}
    assert found == {sig.digest, sbom.digest, sha256(bundle)}
    r = client.http.get(
        client.url(f"/oras/artifacts/v1/{name}/manifests/{subject.digest}/referrers"),
        params={"artifactType": SBOM},
    )
    assert [d["digest"] for d in r.json()["references"]] == [sbom.digest]


# -- content management -------------------------------------------------------------------


def test_delete_tag_keeps_manifest_by_digest(client):
    name, image = unique("del"), random_image(layers=1)
    client.push_image(name, "v1", image)
    client.push_manifest(name, "v2", image.manifest)
    r = client.http.delete(client.url(f"/v2/{name}/manifests/v1"))
    assert r.status_code == 202
    assert client.http.get(client.url(f"/v2/{name}/manifests/v1")).status_code == 404
    assert client.http.get(client.url(f"/v2/{name}/manifests/v2")).status_code == 200
    assert client.http.get(client.url(f"/v2/{name}/manifests/{image.digest}")).status_code == 200
    assert client.http.get(client.url(f"/v2/{name}/tags/list")).json()["tags"] == ["v2"]


def test_delete_manifest_by_digest_removes_its_tags(client):
    name, image = unique("del"), random_image(layers=1)
    client.push_image(name, "v1", image)
    client.push_manifest(name, "v2", image.manifest)
    r = client.http.delete(client.url(f"/v2/{name}/manifests/{image.digest}"))
    assert r.status_code == 202
    for reference in ("v1", "v2", image.digest):
        r = client.http.get(client.url(f"/v2/{name}/manifests/{reference}"))
        assert r.status_code == 404, reference
    assert client.http.get(client.url(f"/v2/{name}/tags/list")).json()["tags"] == []
    r = client.http.delete(client.url(f"/v2/{name}/manifests/{image.digest}"))
    assert r.status_code == 404
    assert error_codes(r) == ["MANIFEST_UNKNOWN"]


def test_delete_unknown_tag_or_repository_is_404(client):
    name, image = unique("del"), random_image(layers=1)
    client.push_image(name, "v1", image)
    r = client.http.delete(client.url(f"/v2/{name}/manifests/nope"))
    assert r.status_code == 404 and error_codes(r) == ["MANIFEST_UNKNOWN"]
    r = client.http.delete(client.url(f"/v2/{unique('ghost')}/manifests/{image.digest}"))
    assert r.status_code == 404
    assert error_codes(r)[0] in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN")


def test_delete_blob(client):
    name, image = unique("del"), random_image(layers=1)
    client.push_image(name, "v1", image)
    layer = sha256(image.layers[0])
    # Once no manifest needs it, a blob can be deleted (202) and is gone (404).
    assert client.http.delete(client.url(f"/v2/{name}/manifests/{image.digest}")).status_code == 202
    r = client.http.delete(client.url(f"/v2/{name}/blobs/{layer}"))
    assert r.status_code == 202
    assert client.http.get(client.url(f"/v2/{name}/blobs/{layer}")).status_code == 404
    r = client.http.delete(client.url(f"/v2/{name}/blobs/{layer}"))
    assert r.status_code == 404
    assert error_codes(r) == ["BLOB_UNKNOWN"]


def test_delete_of_a_blob_a_manifest_needs_is_refused_or_accepted_consistently(client):
    """zot refuses (405) to delete a blob a manifest still uses; distribution deletes it.
    Either is allowed by the conformance suite; a refusal must leave the image pullable."""
    name, image = unique("del"), random_image(layers=1)
    client.push_image(name, "v1", image)
    layer = sha256(image.layers[0])
    r = client.http.delete(client.url(f"/v2/{name}/blobs/{layer}"))
    assert r.status_code in (202, 405)
    if r.status_code == 405:
        assert error_codes(r)[0] in ("UNSUPPORTED", "DENIED")
        assert client.http.get(client.url(f"/v2/{name}/blobs/{layer}")).content == image.layers[0]
    else:
        assert client.http.get(client.url(f"/v2/{name}/blobs/{layer}")).status_code == 404


# -- error codes and names ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/v2/UPPER/case/tags/list", "/v2/a//b/tags/list", "/v2/-lead/tags/list",
     "/v2/a/b./tags/list", "/v2/" + "a" * 256 + "/tags/list"],
)  # fmt: skip
def test_invalid_name_is_name_invalid(client, path):
    r = client.http.get(client.url(path))
    assert r.status_code == 400
    assert error_codes(r) == ["NAME_INVALID"]


def test_invalid_name_on_push_stores_nothing(client, server):
    r = client.http.post(client.url("/v2/Bad/Name/blobs/uploads/"))
    assert r.status_code == 400
    assert error_codes(r) == ["NAME_INVALID"]
    assert not (server.root / "Bad").exists()


def test_deep_names_work_on_every_endpoint(client):
    name = "deep/" + "/".join(f"s{i}" for i in range(8)) + "/manifests/tags/blobs"
    image = random_image(layers=1)
    client.push_image(name, "v1", image)
    assert client.http.get(client.url(f"/v2/{name}/manifests/v1")).content == image.manifest
    r = client.http.get(client.url(f"/v2/{name}/tags/list"))
    assert r.json() == {"name": name, "tags": ["v1"]}
    assert client.http.head(client.url(f"/v2/{name}/blobs/{sha256(image.config)}")).ok
    r = client.http.get(client.url(f"/v2/{name}/referrers/{image.digest}"))
    assert r.status_code == 200


def test_error_bodies_use_spec_codes(client):
    """Every error this walk provokes uses a code from the spec's table."""
    spec_codes = {
        "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
        "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }  # fmt: skip
    name = unique("err")
    missing = sha256(b"missing")
    requests_ = [
        ("GET", f"/v2/{name}/blobs/{missing}", {}, 404),
        ("GET", f"/v2/{name}/manifests/latest", {}, 404),
        ("GET", f"/v2/{name}/tags/list", {}, 404),
        ("GET", f"/v2/{name}/blobs/uploads/{'0' * 32}", {}, 404),
        ("POST", f"/v2/{name}/blobs/uploads/?digest=sha256:x", {}, 400),
        ("PUT", f"/v2/{name}/manifests/v1", {"Content-Type": OCI_MANIFEST}, 400),
        ("GET", "/v2/NO/tags/list", {}, 400),
        # conformance 07: a PUT by a malformed digest is 400 with a spec code.
        ("PUT", f"/v2/{name}/manifests/sha256:totallywrong", {"Content-Type": OCI_MANIFEST}, 400),
        ("DELETE", f"/v2/{name}/manifests/{missing}", {}, 404),
        ("DELETE", f"/v2/{name}/blobs/{missing}", {}, 404),
        (
            "PATCH",
            f"/v2/{name}/blobs/uploads/{'0' * 32}",
            {"Content-Type": "application/octet-stream"},
            404,
        ),
    ]
    for method, path, headers, status in requests_:
        r = client.http.request(method, client.url(path), headers=headers, data=b"{}")
        assert r.status_code == status, (method, path, r.status_code)
        assert r.headers["Content-Type"].startswith("application/json")
        codes = error_codes(r)
        assert set(codes) <= spec_codes, (path, codes)
