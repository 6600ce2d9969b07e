"""ASGI middleware enforcing the effective spec with openapi-core.

It sits after Connexion's routing (and after auth). Every request of a documented operation
has its parameters validated, plus its body when the operation takes plain JSON; a request
breaking the spec is answered 400 (415 for a wrong content type) with an OCI error naming the
rule. Blob and manifest bodies are never read here. In strict mode each response is validated
too (status, headers, and JSON bodies), after it has been passed on unchanged: a violation is a
server bug, logged and written to the contract report.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from typing import Any

from connexion.middleware.abstract import SpecMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import RegistryError
from .report import Reporter, Violation, default_report_path
from .validator import JSON_BODY_LIMIT, Contract, Problem, Response, build_request, headers_of

RESPONSE_BODY_LIMIT = 8 << 20  # JSON responses beyond this are judged by headers only


class ContractSetup:
    """What :func:`zot_server.app.create_app` hands the middleware through ``add_api``."""

    def __init__(self, contract: Contract, strict: bool, reporter: Reporter) -> None:
        self.contract = contract
        self.strict = strict
        self.reporter = reporter
        self.enabled = True


_ids: tuple[int, str, Iterator[int]] = (0, "", itertools.count())


def _request_id(scope: Scope) -> str:
    """The client's X-Request-Id, else a new one: a per-process random prefix and a counter
    (uuid4 per request read os.urandom, which gave up the GIL on every request)."""
    global _ids
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            return value.decode("latin-1")[:64]
    pid, prefix, counter = _ids
    if pid != os.getpid():  # a new (forked) worker: its own prefix
        _ids = pid, prefix, counter = os.getpid(), uuid.uuid4().hex[:8], itertools.count()
    return f"{prefix}{next(counter):08x}"


async def _send_error(
    send: Send, problems: list[Problem], operation: str, head: bool = False
) -> None:
    first = problems[0]
    status = max(p.status for p in problems)
    code = first.code if len({p.code for p in problems}) == 1 else "BAD_REQUEST"
    if status == 415:
        code = "UNSUPPORTED_MEDIA_TYPE"
    exc = RegistryError(
        code,
        f"the request breaks the API specification: {first.rule}"[:500],
        detail={"operation": operation, "rules": [p.rule for p in problems]},
        status=status,
    )
    body = exc.body()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"docker-distribution-api-version", b"registry/2.0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]] | None:
    """The whole (small, JSON) body, and the messages to replay; None if over the limit."""
    chunks, messages, size = [], [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > JSON_BODY_LIMIT:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class ContractMiddleware(SpecMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.setup: ContractSetup | None = None

    def add_api(self, specification: Any, base_path: str | None = None, **kwargs: Any) -> None:
        setup = kwargs.get("contract")
        if isinstance(setup, ContractSetup):
            self.setup = setup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        setup = self.setup
        if setup is None or not setup.enabled or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = setup.contract.match(scope["method"], scope.get("path", "/"))
        if found is None:  # not a documented operation: Connexion answers 404/405
            await self.app(scope, receive, send)
            return
        route, params = found
        body = None
        if setup.contract.validates_body(route):
            read = await _read_body(receive)
            if read is None:
                exc = RegistryError(
                    "PAYLOAD_TOO_LARGE", f"a JSON body is at most {JSON_BODY_LIMIT} bytes"
                )
                await _send_error(send, [Problem(exc.message, exc.code, 413)], route.label)
                return
            body, messages = read
            receive = _replay(messages, receive)
        request = build_request(scope, params, body)
        request_id = _request_id(scope)
        problems = setup.contract.request_problems(request, route)
        if problems:
            setup.reporter.record(
                Violation("request", route.label, [p.rule for p in problems], request_id,
                          scope["method"], scope.get("path", "/"), max(p.status for p in problems))
            )  # fmt: skip
            await _send_error(send, problems, route.label, scope["method"] == "HEAD")
            return
        if not setup.strict:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._checking_send(send, setup, route, request, request_id))

    @staticmethod
    def _checking_send(send: Send, setup: ContractSetup, route, request, request_id: str) -> Send:
        """Pass the response on unchanged, keeping what is needed to validate it at the end.

        The last body message is held until the response is judged, so a violation is on
        record before the client has the whole answer (a test can read the report at once).
        """
        state: dict[str, Any] = {"chunks": [], "size": 0}

        async def checking(message: Message) -> None:
            final = message["type"] == "http.response.body" and not message.get("more_body")
            if not final or "response" not in state:
                await send(message)
            if message["type"] == "http.response.start":
                headers = headers_of(message.get("headers", []))
                status = message["status"]
                ctype = headers.get("Content-Type", "")
                state["response"] = Response(status, headers, ctype)
                state["binary"] = setup.contract.response_is_binary(route, status, ctype)
                return
            if message["type"] != "http.response.body" or "response" not in state:
                return  # (already sent above)
            if not state["binary"] and state["size"] <= RESPONSE_BODY_LIMIT:
                chunk = message.get("body", b"")
                state["size"] += len(chunk)
                state["chunks"].append(chunk)
            if message.get("more_body", False):
                return
            response: Response = state.pop("response")
            checked = not state["binary"] and state["size"] <= RESPONSE_BODY_LIMIT
            response.data = b"".join(state["chunks"]) if checked else b""
            if request.method == "head":
                checked = False
            try:
                rules = setup.contract.response_problems(request, response, checked)
            except Exception as exc:  # noqa: BLE001 - judging must never break the answer
                rules = [f"response could not be validated: {type(exc).__name__}: {exc}"[:300]]
            if rules:
                setup.reporter.record(
                    Violation("response", route.label, rules, request_id,
                              request.method.upper(), request.path, response.status_code)
                )  # fmt: skip
            await send(message)

        return checking


def contract_config(config: dict) -> dict:
    """The zot config file's ``extensions.contract`` section (a zot-server addition)."""
    section = (config.get("extensions") or {}).get("contract") or {}
    return section if isinstance(section, dict) else {}


def setup_from_settings(swagger: dict, settings: Any) -> ContractSetup:
    """Strict from ``--strict`` or ``extensions.contract.strict``; the report path from
    ``Settings.contract_report``, ``extensions.contract.report`` or under the root.

    ``ZOT_SERVER_CONTRACT=off`` in the environment turns validation off altogether; it exists
    only so that scripts/contract_cost.py can measure what validation costs.
    """
    section = contract_config(settings.config)
    strict = bool(settings.strict or section.get("strict"))
    report = getattr(settings, "contract_report", None) or section.get("report")
    if strict and not report:
        report = default_report_path(settings.root)
    setup = ContractSetup(Contract(swagger), strict, Reporter(report if strict else None))
    setup.enabled = os.environ.get("ZOT_SERVER_CONTRACT") != "off"
    return setup
