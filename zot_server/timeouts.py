"""Bounds at the edge of the server: slow bodies, oversized heads, control characters.

Handlers run in a worker's bounded thread pool and block while they read a body: measured,
60 clients trickling bytes pin a worker (a plain GET then waited over 8 s). This ASGI
wrapper ends a request whose body stalls for longer than ``timeout`` seconds between two
pieces: the handler's read raises ``ClientDisconnected``, the upload is rolled back to where
it was, and the client gets a 400 OCI error. Idle keep-alive connections are bounded by uvicorn's
``timeout_keep_alive`` (gunicorn ``keepalive``) and cost no thread.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from werkzeug.exceptions import ClientDisconnected

Scope = dict[str, Any]
Message = dict[str, Any]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


async def _refuse(send, status: int, code: str, message: str) -> None:
    from .errors import error_body

    body = error_body(code, message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"docker-distribution-api-version", b"registry/2.0"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyTimeout:
    def __init__(self, app: Callable, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    def __getattr__(self, name: str) -> Any:  # the wrapped app's attributes stay reachable
        return getattr(self.app, name)

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http" and _CONTROL.search(scope.get("path", "")):
            # No name, tag, digest or session id holds a control character, and Starlette's
            # router (unlike Flask's) does not match one: refuse before either is asked.
            await _refuse(send, 400, "BAD_REQUEST", "control character in the request path")
            return
        if scope["type"] != "http" or self.timeout <= 0:
            await self.app(scope, receive, send)
            return
        done = False

        async def timed_receive() -> Message:
            nonlocal done
            if done:  # the body is in: waiting for a disconnect may take as long as it takes
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                raise ClientDisconnected(
                    f"no request body data for {self.timeout:g} s: request abandoned"
                ) from None
            if message.get("type") != "http.request" or not message.get("more_body", False):
                done = True
            return message

        await self.app(scope, timed_receive, send)


# -- request heads ------------------------------------------------------------------------
# httptools (uvicorn's fast parser) buffers a request line and headers of any size: an 8 MB
# header was accepted. These bounds stop a head early, and protocol-level errors answer with
# an OCI error body like every other error.
MAX_URL = 16 * 1024
MAX_HEAD = 64 * 1024


class _HeadTooLarge(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _oci_head_error(status: int, code: str, message: str) -> bytes:
    from .errors import error_body

    body = error_body(code, message)
    reason = {400: "Bad Request", 414: "URI Too Long", 431: "Request Header Fields Too Large"}
    return (
        f"HTTP/1.1 {status} {reason[status]}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n"
        "docker-distribution-api-version: registry/2.0\r\n\r\n"
    ).encode() + body


def bounded_protocol():
    """uvicorn's httptools protocol: bounded heads, OCI errors, zero-copy blobs (built lazily)."""
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from .sendfile import offer

    class BoundedHttpTools(HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            offer(self)  # blob bodies by sendfile (the app's task has not run yet)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head = 0

        def on_url(self, url: bytes) -> None:
            if len(self.url) + len(url) > MAX_URL:
                raise _HeadTooLarge(414, f"request target over {MAX_URL} bytes")
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head += len(name) + len(value) + 4
            if self._head > MAX_HEAD:
                raise _HeadTooLarge(431, f"request headers over {MAX_HEAD} bytes")
            super().on_header(name, value)

        def data_received(self, data: bytes) -> None:
            self._unset_keepalive_if_required()
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                self._unsupported_upgrade_warning()  # no WebSocket or h2c here
            except httptools.HttpParserError as exc:
                # httptools re-raises a callback's exception as its cause.
                cause = exc.__cause__ or exc.__context__
                if isinstance(cause, _HeadTooLarge):
                    self._refuse(cause.status, "PAYLOAD_TOO_LARGE", cause.message)
                else:
                    self._refuse(400, "BAD_REQUEST", f"invalid HTTP request: {exc}"[:200])

        def _refuse(self, status: int, code: str, message: str) -> None:
            if not self.transport.is_closing():
                self.transport.write(_oci_head_error(status, code, message))
                self.transport.close()

    return BoundedHttpTools


def worker_class():
    """The gunicorn worker: uvicorn's, speaking through :func:`bounded_protocol`."""
    from uvicorn_worker import UvicornWorker

    class Worker(UvicornWorker):
        # No WebSocket in this API: "none" also spares each new worker importing a ws library.
        CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "http": bounded_protocol(), "ws": "none"}

    return Worker
