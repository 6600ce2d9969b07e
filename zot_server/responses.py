"""Response builders shared by the handlers: OCI errors, empty answers, JSON, blobs."""

from __future__ import annotations

import json
from typing import Any

import flask

from .bridge import FileBody
from .errors import RegistryError

JSON = "application/json"
STREAM_BLOCK = 1 << 20  # see STACK-NOTES: 8 KiB blocks through a2wsgi move 26 MB/s


def error_response(exc: RegistryError) -> flask.Response:
    response = flask.Response(exc.body(), status=exc.status, content_type=JSON)
    response.headers.update(exc.headers)
    if exc.status == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = 'Basic realm="zot-server"'
    response.headers["Docker-Distribution-API-Version"] = "registry/2.0"
    return response


def empty(
    status: int, headers: dict[str, str] | None = None, length: int | None = None
) -> flask.Response:
    """A body-less answer; ``length`` is the Content-Length a HEAD reports for the entity."""
    response = flask.Response(b"", status=status)
    response.headers.pop("Content-Type", None)
    response.headers.update(headers or {})
    if length is not None:
        response.headers["Content-Length"] = str(length)
    return response


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None, content_type: str = JSON
) -> flask.Response:
    response = flask.Response(json.dumps(body), status=status, content_type=content_type)
    response.headers.update(headers or {})
    return response


def file_response(
    path: str, start: int, length: int, status: int, headers: dict[str, str], content_type: str
) -> flask.Response:
    """Stream ``length`` bytes of ``path`` from ``start``: never the whole file in memory.

    Under :mod:`zot_server.bridge` the event loop streams the open file itself (no thread
    hand-off per block); any other WSGI server iterates the same body in 1 MiB blocks.
    """
    response = flask.Response(
        FileBody(open(path, "rb"), start=start, length=length),  # noqa: SIM115 - closed by it
        status=status,
        content_type=content_type,
        direct_passthrough=True,
    )
    response.headers.update(headers)
    response.headers["Content-Length"] = str(length)
    return response
