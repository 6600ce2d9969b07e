"""``/v2/``: the API version check."""

from __future__ import annotations

import flask

from . import handles

VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


@handles("GET", "/v2/", quick=True)
def check() -> flask.Response:
    """200 with ``{}`` tells clients this is a V2 registry (OCI Distribution Spec, end-1)."""
    return flask.Response(b"{}", status=200, content_type="application/json", headers=VERSION)
