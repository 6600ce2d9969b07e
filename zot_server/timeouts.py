"""Bound how long a slow client can hold a request handler.

Handlers run in a worker's small thread pool (a2wsgi: 10 per worker) and block while they
read a body, so ten clients trickling bytes would pin a worker. This ASGI wrapper ends a
request whose body stalls for longer than ``timeout`` seconds between two pieces: the
handler's read raises ``ClientDisconnected``, the upload is rolled back to where it was, and
the client gets a 400 OCI error. Idle keep-alive connections are bounded by uvicorn's
``timeout_keep_alive`` (gunicorn ``keepalive``) and cost no thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from werkzeug.exceptions import ClientDisconnected

Scope = dict[str, Any]
Message = dict[str, Any]


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
