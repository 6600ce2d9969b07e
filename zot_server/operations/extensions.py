"""zot's extension endpoints: discovery, mgmt (the stripped config), userprefs, and the
image-trust uploads (cosign public keys, notation certificates).

Which are on follows zot's config keys: ``extensions.mgmt.enable`` (or ``ui.enable``) for
mgmt, ``search.enable`` and ``ui.enable`` together for userprefs, ``trust.enable`` with
``cosign`` / ``notation`` for the uploads. A disabled extension answers 404, as zot's
router has no route for it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

import flask
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ..context import identity, query_value, registry, storage
from ..errors import RegistryError
from ..references import check_name
from ..responses import empty, json_response
from . import handles

BASE = "/v2/_zot/ext"
UPLOAD_LIMIT = 256 << 10
TRUSTSTORE_TYPES = ("ca", "signingAuthority")  # notation's x509 trust store types
PREFERENCES = {"toggleStar": "star", "toggleBookmark": "bookmark"}
DEFAULT_DIST_SPEC = "1.1.1"


def _on(section: str) -> bool:
    value = (registry().settings.config.get("extensions") or {}).get(section) or {}
    return bool(value.get("enable"))


def enabled() -> dict[str, bool]:
    trust = (registry().settings.config.get("extensions") or {}).get("trust") or {}
    trusted = bool(trust.get("enable"))
    return {
        "notation": trusted and bool(trust.get("notation")),
        "cosign": trusted and bool(trust.get("cosign")),
        "userprefs": _on("search") and _on("ui"),
        "mgmt": _on("mgmt") or _on("ui"),
    }


def _require(name: str) -> None:
    if not enabled()[name]:
        raise RegistryError("NOT_FOUND", f"the {name} extension is not enabled", status=404)


@handles("GET", "/v2/_oci/ext/discover")
def discover() -> flask.Response:
    """OCI extension discovery: one ``_zot`` entry listing the enabled endpoints."""
    endpoints = [f"{BASE}/{name}" for name, on in enabled().items() if on]
    extensions = []
    if endpoints:
        extensions.append({
            "name": "_zot",
            "url": "https://github.com/project-zot/zot/blob/main/pkg/extensions/_zot.md",
            "description": "zot registry extensions",
            "endpoints": endpoints,
        })  # fmt: skip
    return json_response({"extensions": extensions})


def stripped_config() -> dict:
    """``extensions.StrippedConfig``: which auth is on; no secrets, no file paths."""
    config = registry().settings.config
    http = config.get("http") or {}
    auth = http.get("auth") or {}
    stripped_auth: dict = {}
    if auth.get("htpasswd"):
        stripped_auth["htpasswd"] = {}
    if auth.get("bearer"):
        bearer = auth["bearer"]
        stripped_auth["bearer"] = {"realm": bearer.get("realm"), "service": bearer.get("service")}
    if auth.get("apikey"):
        stripped_auth["apikey"] = True
    access = http.get("accessControl") or {}
    anonymous = any(g.get("anonymousPolicy") for g in (access.get("repositories") or {}).values())
    out_http: dict = {"accessControl": {"anonymousPolicy": anonymous}} if anonymous else {}
    if stripped_auth:
        out_http["auth"] = stripped_auth
    binary = "".join(f"-{name}" for name, on in enabled().items() if on)
    return {
        "distSpecVersion": config.get("distSpecVersion", DEFAULT_DIST_SPEC),
        "binaryType": binary,
        "http": out_http,
    }


@handles("GET", "/v2/_zot/ext/mgmt")
def mgmt() -> flask.Response:
    _require("mgmt")
    resource = query_value("resource") or "config"
    if resource != "config":
        raise RegistryError("BAD_REQUEST", "resource must be config")
    response = json_response(stripped_config())
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@handles("PUT", "/v2/_zot/ext/userprefs")
def userprefs() -> flask.Response:
    _require("userprefs")
    action = query_value("action")
    if action not in PREFERENCES:
        raise RegistryError("BAD_REQUEST", "action must be toggleStar or toggleBookmark")
    repo = query_value("repo")
    if not repo:
        raise RegistryError("BAD_REQUEST", "repo is required")
    who = identity()
    if who.anonymous:
        raise RegistryError("DENIED", "stars and bookmarks belong to a logged-in user")
    check_name(repo)
    if not any(registry().security.readable(who, [repo])):
        raise RegistryError("DENIED", "the user may not read this repository")
    if not storage().repository_exists(repo):
        raise RegistryError("NAME_UNKNOWN", detail={"name": repo})
    registry().security.meta.toggle_preference(who.user, PREFERENCES[action], repo)
    return empty(200)


def _upload_body() -> bytes:
    body = flask.request.stream.read(UPLOAD_LIMIT + 1)
    if len(body) > UPLOAD_LIMIT:
        raise RegistryError("BAD_REQUEST", f"uploads are limited to {UPLOAD_LIMIT} bytes")
    return body


def _store(parts: list[str], body: bytes, suffix: str) -> None:
    """Under ``<root>/.zot-server/trust/``, named by content, written atomically."""
    directory = os.path.join(registry().settings.root, ".zot-server", "trust", *parts)
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha256(body).hexdigest() + suffix
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(directory, name))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@handles("POST", "/v2/_zot/ext/cosign")
def upload_cosign_key() -> flask.Response:
    _require("cosign")
    body = _upload_body()
    try:
        load_pem_public_key(body)
    except (ValueError, TypeError):
        raise RegistryError("BAD_REQUEST", "the body is not a PEM public key") from None
    _store(["cosign"], body, ".pub")
    return empty(200)


@handles("POST", "/v2/_zot/ext/notation")
def upload_notation_certificate() -> flask.Response:
    _require("notation")
    store_type = query_value("truststoreType") or "ca"
    if store_type not in TRUSTSTORE_TYPES:
        raise RegistryError("BAD_REQUEST", "truststoreType must be ca or signingAuthority")
    body = _upload_body()
    try:
        certificates = x509.load_pem_x509_certificates(body)
    except ValueError:
        certificates = []
    if not certificates:
        raise RegistryError("BAD_REQUEST", "the body is not a PEM x509 certificate")
    _store(["notation", store_type], body, ".crt")
    return empty(200)
