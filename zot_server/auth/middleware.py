"""The ASGI middleware that authenticates and authorises every request before routing on.

It sits right after Connexion's RoutingMiddleware, so the path parameters (the repository
name) are known. A refusal is answered here, as an OCI error body; an accepted request goes
on with its :class:`Identity` in the scope, where :func:`zot_server.context.identity` finds it.
Credentials are never logged.
"""

from __future__ import annotations

import asyncio
import functools

from starlette.datastructures import Headers

from ..errors import error_body
from .identity import SCOPE_KEY
from .needs import classify
from .security import Security


class AuthMiddleware:
    def __init__(self, app, security: Security | None = None) -> None:
        self.app = app
        self.security = security

    @classmethod
    def bind(cls, security: Security):
        """A middleware factory Connexion can build (it calls ``factory(app)``)."""
        return functools.partial(cls, security=security)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or self.security is None or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        security = self.security
        need = classify(scope["method"], scope["path"], scope.get("path_params") or {},
                        scope.get("query_string", b""), security.tag_check)  # fmt: skip
        outcome = await security.decide(Headers(scope=scope), need)
        if outcome.status:
            if outcome.delay:
                await asyncio.sleep(outcome.delay)
            await _refuse(send, outcome)
            return
        scope[SCOPE_KEY] = outcome.identity
        extra = [(b"set-cookie", c.encode("latin1")) for c in outcome.cookies]
        if scope["path"] in ("/v2/", "/v2"):
            extra += [(k.lower().encode(), v.encode("latin1")) for k, v in
                      security.version_check_headers(Headers(scope=scope)).items()]  # fmt: skip
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(send, outcome) -> None:
    body = error_body(outcome.code, outcome.message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"docker-distribution-api-version", b"registry/2.0"),
    ]
    headers += [(k.lower().encode(), v.encode("latin1")) for k, v in outcome.headers.items()]
    headers += [(b"set-cookie", c.encode("latin1")) for c in outcome.cookies]
    await send({"type": "http.response.start", "status": outcome.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
