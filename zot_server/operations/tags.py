"""``/v2/{name}/tags/list``: a repository's tags, sorted, paginated (end-8a, end-8b)."""

from __future__ import annotations

import flask

from ..context import storage
from ..pagination import page
from ..references import check_name
from ..responses import json_response
from . import handles


@handles("GET", "/v2/{name}/tags/list", quick=True)
def list_tags(name: str) -> flask.Response:
    check_name(name)
    tags, headers = page(storage().tags(name), f"/v2/{name}/tags/list")
    return json_response({"name": name, "tags": tags}, headers=headers)
