"""``/v2/_catalog``: the repositories this registry holds."""

from __future__ import annotations

import flask

from ..context import identity, registry, storage
from ..pagination import page_of
from ..responses import json_response
from . import handles


@handles("GET", "/v2/_catalog")
def list_repositories() -> flask.Response:
    who, store, security = identity(), storage(), registry().security
    names, headers = page_of(
        lambda last: security.readable(who, store.repositories_after(last)), "/v2/_catalog"
    )
    return json_response({"repositories": names}, headers=headers)
