"""OCI Distribution Spec v1.1, Push (manifests): by tag and digest, several ``?tag=``,
referenced blobs required, subject + OCI-Subject, OCI index, Docker schema2 and manifest
list, artifacts with the empty config, media type checks and the 4 MiB limit.

Every rejected push is checked to leave what was stored before exactly as it was.
"""

from __future__ import annotations

import json
import os

import pytest
from oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY_CONFIG,
    EMPTY_DIGEST,
    EMPTY_JSON,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Client,
    artifact,
    descriptor,
    docker_image,
    error_codes,
    index_of,
    location,
    manifest_of,
    random_image,
    sha256,
    sha512,
    unique,
)


def fetch(client: Client, name: str, reference: str, accept: str = "*/*"):
    return client.http.get(
        client.url(f"/v2/{name}/manifests/{reference}"), headers={"Accept": accept}
    )


def tags(client: Client, name: str) -> list[str]:
    r = client.http.get(client.url(f"/v2/{name}/tags/list"))
    assert r.status_code == 200, r.text
    return r.json()["tags"]


def test_put_by_tag_answers_location_and_digest(client):
    name, image = unique("man"), random_image()
    client.push_blobs(name, image)
    r = client.push_manifest(name, "v1", image.manifest)
    assert r.status_code == 201
    assert location(client, r).endswith(f"/v2/{name}/manifests/{image.digest}")
    assert r.headers["Docker-Content-Digest"] == image.digest
    assert fetch(client, name, "v1").content == image.manifest
    assert fetch(client, name, image.digest).content == image.manifest


def test_put_by_digest_is_untagged_but_pullable(client):
    name, image = unique("man"), random_image()
    client.push_blobs(name, image)
    r = client.push_manifest(name, image.digest, image.manifest)
    assert r.status_code == 201
    assert fetch(client, name, image.digest).content == image.manifest
    assert tags(client, name) == []


def test_put_by_wrong_digest_is_digest_invalid(client):
    name, image = unique("man"), random_image()
    client.push_blobs(name, image)
    r = client.push_manifest(name, sha256(b"other"), image.manifest)
    assert r.status_code == 400
    assert error_codes(r) == ["DIGEST_INVALID"]
    assert fetch(client, name, image.digest).status_code == 404


def test_put_by_sha512_digest(client):
    name, image = unique("man"), random_image()
    client.push_blobs(name, image)
    digest = sha512(image.manifest)
    r = client.push_manifest(name, digest, image.manifest)
    assert r.status_code == 201
    assert r.headers["Docker-Content-Digest"] == digest
    r = fetch(client, name, digest)
    assert r.status_code == 200 and r.content == image.manifest


def test_several_tags_on_one_put_by_digest(client):
    name, image = unique("man"), random_image()
    client.push_blobs(name, image)
    r = client.http.put(
        client.url(f"/v2/{name}/manifests/{image.digest}"),
        params=[("tag", "a"), ("tag", "b"), ("tag", "c")],
        data=image.manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert r.status_code == 201
    assert {t.strip() for t in r.headers["OCI-Tag"].split(",")} == {"a", "b", "c"}
    assert tags(client, name) == ["a", "b", "c"]
    for tag in "abc":
        assert fetch(client, name, tag).headers["Docker-Content-Digest"] == image.digest


def test_retag_moves_tag_and_keeps_old_manifest_by_digest(client):
    name, old, new = unique("man"), random_image(), random_image()
    client.push_image(name, "latest", old)
    client.push_image(name, "latest", new)
    assert fetch(client, name, "latest").content == new.manifest
    assert fetch(client, name, old.digest).content == old.manifest
    assert tags(client, name) == ["latest"]


def test_referenced_blobs_are_required(client):
    name, image = unique("man"), random_image(layers=2)
    client.push_blob(name, image.config)
    client.push_blob(name, image.layers[0])  # the second layer is missing
    r = client.push_manifest(name, "v1", image.manifest)
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]
    assert fetch(client, name, "v1").status_code == 404


def test_missing_config_is_manifest_blob_unknown(client):
    name, image = unique("man"), random_image(layers=1)
    client.push_blob(name, image.layers[0])
    r = client.push_manifest(name, "v1", image.manifest)
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]


def test_descriptor_size_must_match_the_blob(client):
    name, image = unique("man"), random_image(layers=1)
    client.push_blobs(name, image)
    doc = json.loads(image.manifest)
    doc["layers"][0]["size"] += 1
    r = client.push_manifest(name, "v1", json.dumps(doc).encode())
    assert r.status_code == 400
    assert error_codes(r)[0] in ("MANIFEST_INVALID", "SIZE_INVALID")


def test_rejected_push_leaves_the_tag_as_it_was(client):
    name, good = unique("man"), random_image()
    client.push_image(name, "v1", good)
    bad = random_image()  # its blobs were never pushed
    assert client.push_manifest(name, "v1", bad.manifest).status_code == 400
    assert client.push_manifest(name, "v1", b"{not json").status_code == 400
    r = fetch(client, name, "v1")
    assert r.status_code == 200 and r.content == good.manifest
    assert tags(client, name) == ["v1"]


def test_subject_answers_oci_subject_even_when_the_subject_is_absent(client):
    """conformance 03: a referrer may be pushed before (or without) its subject."""
    name, subject = unique("man"), random_image()
    sig = artifact(subject, "application/vnd.example.sig", b"signature")
    client.push_blobs(name, sig)
    r = client.push_manifest(name, sig.digest, sig.manifest)
    assert r.status_code == 201
    assert r.headers["OCI-Subject"] == subject.digest


def test_index_with_subject_answers_oci_subject(client):
    name, subject, child = unique("man"), random_image(), random_image()
    client.push_image(name, "child", child)
    body = index_of(
        [descriptor(OCI_MANIFEST, child.manifest)],
        artifactType="application/vnd.example.bundle",
        subject=descriptor(OCI_MANIFEST, subject.manifest),
    )
    r = client.push_manifest(name, sha256(body), body, media_type=OCI_INDEX)
    assert r.status_code == 201
    assert r.headers["OCI-Subject"] == subject.digest


def test_oci_index(client):
    name, amd, arm = unique("man"), random_image(), random_image()
    client.push_image(name, "amd64", amd)
    client.push_image(name, "arm64", arm)
    body = index_of(
        [
            descriptor(
                OCI_MANIFEST, amd.manifest, platform={"architecture": "amd64", "os": "linux"}
            ),
            descriptor(
                OCI_MANIFEST, arm.manifest, platform={"architecture": "arm64", "os": "linux"}
            ),
        ]
    )
    r = client.push_manifest(name, "multi", body, media_type=OCI_INDEX)
    assert r.status_code == 201
    r = fetch(client, name, "multi", accept=f"{OCI_MANIFEST}, {OCI_INDEX}")
    assert r.status_code == 200 and r.content == body
    assert r.headers["Content-Type"] == OCI_INDEX


def test_index_of_missing_manifests_is_manifest_blob_unknown(client):
    name, ghost = unique("man"), random_image()
    body = index_of([descriptor(OCI_MANIFEST, ghost.manifest)])
    r = client.push_manifest(name, "multi", body, media_type=OCI_INDEX)
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]


def test_docker_schema2_manifest_and_manifest_list(client):
    name, image = unique("man"), docker_image()
    client.push_blobs(name, image)
    r = client.push_manifest(name, "docker", image.manifest, media_type=DOCKER_MANIFEST)
    assert r.status_code == 201, r.text
    r = fetch(client, name, "docker", accept=DOCKER_MANIFEST)
    assert r.status_code == 200 and r.headers["Content-Type"] == DOCKER_MANIFEST
    assert r.content == image.manifest
    platform = {"architecture": "amd64", "os": "linux"}
    body = index_of([descriptor(DOCKER_MANIFEST, image.manifest, platform=platform)],
                    media_type=DOCKER_LIST)  # fmt: skip
    r = client.push_manifest(name, "list", body, media_type=DOCKER_LIST)
    assert r.status_code == 201, r.text
    r = fetch(client, name, "list", accept=DOCKER_LIST)
    assert r.status_code == 200 and r.headers["Content-Type"] == DOCKER_LIST


def test_artifact_with_empty_config(client):
    name = unique("man")
    art = artifact(None, "application/vnd.example.sbom", b'{"sbom": true}')
    assert sha256(EMPTY_JSON) == EMPTY_DIGEST
    client.push_blobs(name, art)
    r = client.push_manifest(name, "sbom", art.manifest)
    assert r.status_code == 201, r.text
    doc = json.loads(fetch(client, name, "sbom").content)
    assert doc["artifactType"] == "application/vnd.example.sbom"
    assert doc["config"]["mediaType"] == EMPTY_CONFIG


def test_artifact_without_layers(client):
    """The list of blobs MAY be empty (spec, Pushing Manifests)."""
    name = unique("man")
    client.push_blob(name, EMPTY_JSON)
    body = manifest_of(descriptor(EMPTY_CONFIG, EMPTY_JSON), [],
                       artifactType="application/vnd.example.marker")  # fmt: skip
    r = client.push_manifest(name, "marker", body)
    assert r.status_code == 201, r.text


def test_media_type_must_match_content_type(client):
    name, image = unique("man"), random_image()
    client.push_blobs(name, image)
    r = client.push_manifest(name, "v1", image.manifest, media_type=OCI_INDEX)
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_INVALID"]
    assert fetch(client, name, "v1").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"schemaVersion": 1, "mediaType": OCI_MANIFEST}).encode(),
        json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode(),
        json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [], "config": {
            "mediaType": OCI_CONFIG, "digest": "sha256:z", "size": 2}}).encode(),
    ],
    ids=["not-json", "array", "schema-1", "no-config", "bad-digest"],
)  # fmt: skip
def test_invalid_manifest_is_manifest_invalid(client, body):
    name = unique("man")
    r = client.push_manifest(name, "v1", body)
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_INVALID"]


def test_unknown_manifest_media_type_is_rejected(client):
    name = unique("man")
    body = json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode()
    r = client.push_manifest(name, "v1", body, media_type="application/x-unknown")
    assert r.status_code in (400, 415)
    assert error_codes(r)[0] in ("MANIFEST_INVALID", "UNSUPPORTED")


def test_manifest_over_4_mib_is_413(client):
    name, image = unique("man"), random_image(layers=1)
    client.push_blobs(name, image)
    doc = json.loads(image.manifest)
    doc["annotations"] = {"pad": "x" * (4 * 1024 * 1024)}
    big = json.dumps(doc).encode()
    r = client.push_manifest(name, "big", big)
    assert r.status_code == 413
    assert error_codes(r)[0] in ("MANIFEST_INVALID", "SIZE_INVALID")
    assert fetch(client, name, "big").status_code == 404


def test_manifest_just_under_4_mib_is_accepted(client):
    name, image = unique("man"), random_image(layers=1)
    client.push_blobs(name, image)
    doc = json.loads(image.manifest)
    doc["annotations"] = {"pad": ""}
    pad = 4 * 1024 * 1024 - len(json.dumps(doc).encode())
    doc["annotations"]["pad"] = "x" * pad
    body = json.dumps(doc).encode()
    assert len(body) == 4 * 1024 * 1024
    r = client.push_manifest(name, "edge", body)
    assert r.status_code == 201, r.text[:300]


def test_invalid_tag_is_rejected(client):
    name, image = unique("man"), random_image()
    client.push_blobs(name, image)
    for tag in ("-leading-dash", "a" * 129, "has%20space"):
        r = client.push_manifest(name, tag, image.manifest)
        assert r.status_code == 400, tag
        assert error_codes(r)[0] in ("MANIFEST_INVALID", "NAME_INVALID", "TAG_INVALID")
    r = client.http.put(
        client.url(f"/v2/{name}/manifests/{image.digest}"), params={"tag": "-bad"},
        data=image.manifest, headers={"Content-Type": OCI_MANIFEST},
    )  # fmt: skip
    assert r.status_code == 400
    assert tags(client, name) == []


def test_layer_blob_with_foreign_urls_need_not_be_present(client):
    """Non-distributable layers with urls are fetched elsewhere; only the config is required."""
    name = unique("man")
    config = json.dumps({"architecture": "amd64", "os": "windows", "n": os.urandom(4).hex()})
    config = config.encode()
    client.push_blob(name, config)
    foreign = descriptor(
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", b"far away",
        urls=["https://example.invalid/layer"],
    )  # fmt: skip
    body = manifest_of(descriptor(OCI_CONFIG, config), [foreign])
    r = client.push_manifest(name, "win", body)
    assert r.status_code == 201, r.text
    # The same descriptor as an ordinary layer needs its blob.
    body = manifest_of(descriptor(OCI_CONFIG, config), [{**foreign, "mediaType": OCI_LAYER}])
    r = client.push_manifest(name, "win2", body)
    assert r.status_code == 400
    assert error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]
