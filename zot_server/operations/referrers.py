"""Referrers: manifests whose ``subject`` is a given manifest (end-12a/b), and the legacy
ORAS artifacts path that answers the same question in its own shape."""

from __future__ import annotations

import flask

from ..context import query_value, storage
from ..references import check_digest, check_name
from ..responses import json_response
from . import handles

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _referrers(name: str, digest: str) -> tuple[list[dict], dict[str, str]]:
    check_name(name)
    check_digest(digest)
    found = storage().referrers(name, digest)
    artifact_type = query_value("artifactType")
    headers: dict[str, str] = {}
    if artifact_type:
        found = [d for d in found if d.get("artifactType") == artifact_type]
        headers["OCI-Filters-Applied"] = "artifactType"
    return found, headers


@handles("GET", "/v2/{name}/referrers/{digest}")
def list_referrers(name: str, digest: str) -> flask.Response:
    """Always an image index; empty when nothing refers to ``digest`` (never 404)."""
    found, headers = _referrers(name, digest)
    body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found}
    return json_response(body, headers=headers, content_type=OCI_INDEX)


@handles("GET", "/oras/artifacts/v1/{name}/manifests/{digest}/referrers")
def list_oras_references(name: str, digest: str) -> flask.Response:
    found, headers = _referrers(name, digest)
    return json_response({"references": found}, headers=headers)
