"""What a handler needs from the running server: its storage, settings and request body."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import flask
from werkzeug.exceptions import ClientDisconnected

from .errors import RegistryError
from .responses import STREAM_BLOCK

if TYPE_CHECKING:
    from .auth.identity import Identity
    from .registry import Registry
    from .storage import Storage


def registry() -> Registry:
    return flask.current_app.extensions["zot"]


def storage() -> Storage:
    return registry().storage


def body_chunks() -> Iterator[bytes]:
    """The request body as it arrives, in blocks; a client that stops short is an error."""
    stream = flask.request.stream
    try:
        pieces = getattr(stream, "pieces", None)  # the bridge's RequestBody: as received
        if pieces is not None:
            yield from pieces()
            return
        while True:
            block = stream.read(STREAM_BLOCK)
            if not block:
                return
            yield block
    except ClientDisconnected:
        raise RegistryError(
            "BLOB_UPLOAD_INVALID", "the body ended before Content-Length bytes arrived"
        ) from None


def declared_length() -> int | None:
    value = flask.request.headers.get("Content-Length")
    if value is None:
        return None
    if not value.isdigit():
        raise RegistryError("SIZE_INVALID", "Content-Length is not a number", status=400)
    return int(value)


def query_value(key: str) -> str | None:
    """One query parameter; several copies of a single-valued parameter are an error."""
    values = flask.request.args.getlist(key)
    if len(values) > 1:
        raise RegistryError("BAD_REQUEST", f"query parameter {key} given {len(values)} times")
    return values[0] if values else None


def identity() -> Identity:
    """Who sent this request, as zot_server.auth established it (anonymous without auth)."""
    from .auth.identity import ANONYMOUS, SCOPE_KEY

    scope = flask.request.environ.get("asgi.scope") or {}
    return scope.get(SCOPE_KEY, ANONYMOUS)
