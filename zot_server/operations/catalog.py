"""``/v2/_catalog``: the repositories this registry holds."""

from __future__ import annotations

import flask

from ..context import identity, registry, storage
from ..pagination import page
from ..responses import json_response
from . import handles


@handles("GET", "/v2/_catalog")
def list_repositories() -> flask.Response:
    names = registry().security.readable(identity(), storage().repositories())
    names, headers = page(names, "/v2/_catalog")
    return json_response({"repositories": names}, headers=headers)
