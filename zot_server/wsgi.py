"""WSGI-level fixes for bodies under Connexion's FlaskApp (see STACK-NOTES.md).

- a2wsgi does not set ``wsgi.input_terminated``, so werkzeug reads chunked bodies as empty.
- No operation of this API consumes a form, yet werkzeug would parse (and buffer) a body sent
  as ``application/x-www-form-urlencoded`` -- curl's default -- so the handler saw 0 bytes.
  Such bodies are passed through as raw bytes; the original type stays in
  ``zot.original_content_type`` for the contract checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BodyPassthrough:
    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ["wsgi.input_terminated"] = True
        content_type = environ.get("CONTENT_TYPE", "")
        if content_type.split(";", 1)[0].strip().lower() in FORM_TYPES:
            environ["zot.original_content_type"] = content_type
            environ["CONTENT_TYPE"] = "application/octet-stream"
        return self.app(environ, start_response)
