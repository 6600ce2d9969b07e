"""``/zot/auth/apikey`` and ``/zot/auth/logout``: a user's API keys, and ending a session.

The shapes are zot's (``pkg/api/routes.go``): POST answers 201 with ``APIKeyDetails`` plus
``apiKey`` (shown this once: only its hash is stored), GET answers ``{"apiKeys": [...]}``
without secrets, DELETE ``?id=<uuid>`` revokes one of the caller's keys.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from datetime import UTC, datetime

import flask

from ..auth.security import API_KEY_PREFIX, hash_secret
from ..context import identity, registry
from ..errors import RegistryError
from ..metadata import ApiKey
from ..responses import empty, json_response
from . import handles

PAYLOAD_LIMIT = 64 << 10


def _user() -> str:
    security = registry().security
    if not security.apikey:
        raise RegistryError(
            "NOT_FOUND", "API keys are not enabled (http.auth.apikey in the config)", status=404
        )
    who = identity()
    if who.anonymous:
        raise RegistryError("UNAUTHORIZED", "API keys belong to a logged-in user")
    return who.user


def _payload() -> dict:
    raw = flask.request.stream.read(PAYLOAD_LIMIT + 1)
    if len(raw) > PAYLOAD_LIMIT:
        raise RegistryError("BAD_REQUEST", "the API key request is too large")
    try:
        payload = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RegistryError("BAD_REQUEST", "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise RegistryError("BAD_REQUEST", "the body must be a JSON object")
    label, scopes = payload.get("label", ""), payload.get("scopes", [])
    if not isinstance(label, str) or not isinstance(scopes, list):
        raise RegistryError("BAD_REQUEST", "label must be a string and scopes a list")
    if not all(isinstance(s, str) for s in scopes):
        raise RegistryError("BAD_REQUEST", "scopes must be strings")
    return payload


def _expiration(value) -> datetime | None:
    """RFC 3339 with an offset, as zot's APIKeyTimeFormat; in the past is an error."""
    if value in (None, ""):
        return None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise RegistryError(
            "BAD_REQUEST", "expirationDate must be RFC 3339, e.g. 2030-01-02T15:04:05Z"
        )
    if when <= datetime.now(UTC):
        raise RegistryError("BAD_REQUEST", "expirationDate is in the past")
    return when


@handles("POST", "/zot/auth/apikey")
def create_api_key() -> flask.Response:
    user = _user()
    payload = _payload()
    secret = uuidlib.uuid4().hex  # zot: a v4 UUID without dashes, prefixed with zak_
    key = ApiKey(
        uuid=str(uuidlib.uuid4()),
        user=user,
        label=payload.get("label", ""),
        scopes=list(payload.get("scopes", [])),
        created_at=datetime.now(UTC),
        expiration=_expiration(payload.get("expirationDate")),
        creator_ua=flask.request.headers.get("User-Agent", "")[:256],
    )
    registry().security.meta.add_api_key(hash_secret(secret), key)
    return json_response({**key.to_zot(), "apiKey": API_KEY_PREFIX + secret}, status=201)


@handles("GET", "/zot/auth/apikey")
def list_api_keys() -> flask.Response:
    keys = registry().security.meta.api_keys(_user())
    return json_response({"apiKeys": [k.to_zot() for k in keys]})


@handles("DELETE", "/zot/auth/apikey")
def revoke_api_key() -> flask.Response:
    user = _user()
    ids = flask.request.args.getlist("id")
    if len(ids) != 1 or not ids[0]:
        raise RegistryError("BAD_REQUEST", "give exactly one ?id=<api key uuid>")
    # zot answers 200 whether or not the id named one of the caller's keys.
    registry().security.meta.revoke_api_key(user, ids[0])
    return empty(200)


@handles("POST", "/zot/auth/logout")
def logout() -> flask.Response:
    """End the session of the cookie sent, if any, and tell the browser to drop it."""
    security = registry().security
    security.end_session(flask.request.headers.get("Cookie", ""))
    response = empty(200)
    for cookie in security.clear_cookies():
        response.headers.add("Set-Cookie", cookie)
    return response
