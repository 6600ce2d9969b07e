"""openapi-core validators over the converted effective spec, built once at start-up.

Only parameters, headers and JSON bodies are validated: blob and manifest bodies stream past
(manifests are checked by :mod:`zot_server.validation`), and a blob response is judged by its
status and headers alone.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from jsonschema_path import SchemaPath
from openapi_core.casting.schemas.exceptions import CastError
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.exceptions import DeserializeError
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.validation.request.exceptions import (
    MissingParameterError,
    MissingRequiredRequestBody,
    ParameterValidationError,
    RequestBodyValidationError,
)
from openapi_core.validation.request.validators import (
    V30RequestBodyValidator,
    V30RequestParametersValidator,
)
from openapi_core.validation.response.validators import (
    V30ResponseDataValidator,
    V30ResponseHeadersValidator,
)
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict

from .convert import convert
from .memo import memoise
from .routes import Route, RouteTable

JSON_BODY_LIMIT = 1 << 20  # a JSON request body bigger than this is refused, not buffered
RESULT_CACHE = 4096  # validation results kept per server process (see Contract.request_problems)


def _json_loads(raw: bytes | str, **parameters: str) -> Any:
    """JSON bodies; openapi-core passes media type parameters (``charset``) as keywords."""
    return json.loads(raw) if raw else None


def json_media_types(openapi: dict) -> set[str]:
    """Every ``application/json`` or ``+json`` media type the document names (manifests,
    indexes): openapi-core knows only plain JSON by itself."""
    found = {"application/json"}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "content" and isinstance(value, dict):
                    found.update(t for t in value if t.endswith("+json"))
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(openapi)
    return found


def is_plain_json(media_type: str) -> bool:
    """``application/json`` (with parameters): the bodies validated here."""
    return media_type.split(";")[0].strip().lower() == "application/json"


@dataclass
class Request:
    """What openapi-core reads from a request (its ``Request`` protocol)."""

    method: str
    path: str
    parameters: RequestParameters
    content_type: str = ""
    body: bytes | None = None
    host_url: str = "http://localhost"


@dataclass
class Response:
    status_code: int
    headers: Headers
    content_type: str = ""
    data: bytes | None = b""


@dataclass
class Problem:
    """One broken rule: what and where, plus the OCI code that fits it best."""

    rule: str
    code: str = "BAD_REQUEST"
    status: int = 400


def _text(exc: BaseException, limit: int = 300) -> str:
    """``str(exc)``, printable and bounded; openapi-core's own ``__str__`` can itself fail
    (it decodes a body that is not UTF-8)."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - describing an error must not raise another
        text = f"{type(exc).__name__}: {getattr(exc, 'value', b'')!r}"
    cleaned = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return cleaned + ("..." if len(text) > limit else "")


def _schema_rule(error) -> str:
    """Where a value breaks which schema keyword, never the value itself: violation records
    are logged, and a body may hold a secret (an API key, a password)."""
    where = "/".join(str(p) for p in getattr(error, "absolute_path", ())) or "(value)"
    keyword = getattr(error, "validator", "schema")
    expected = _text(ValueError(repr(getattr(error, "validator_value", ""))), limit=80)
    return f"{where}: breaks '{keyword}' (schema: {expected})"


def _cause_text(exc: BaseException, reveal: bool = False) -> str:
    """The rules a value broke. Only parameter values (names, digests, tags: the client's own,
    and what a client author needs to see) are quoted; body values never are."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, InvalidSchemaValue):
        errors = [
            (getattr(e, "message", None) or _text(e)) if reveal else _schema_rule(e)
            for e in cause.schema_errors
        ]
        return "; ".join(errors) or "value breaks its schema"
    if isinstance(cause, (CastError, DeserializeError)):
        return _text(cause)
    if cause is not None and not isinstance(cause, RequestBodyValidationError):
        return _text(cause)
    return ""


def param_code(name: str, value: object = None, location: str = "path") -> str:
    """The OCI code of a broken parameter, as the handlers would answer it: the repository
    name, a digest (in the path, or the ``digest`` query of an upload) and a reference."""
    if location == "query":
        return "DIGEST_INVALID" if name == "digest" else "BAD_REQUEST"
    if location != "path":
        return "BAD_REQUEST"
    if name == "reference" and value is not None:
        return "DIGEST_INVALID" if ":" in str(value) else "MANIFEST_INVALID"
    return {"name": "NAME_INVALID", "digest": "DIGEST_INVALID"}.get(name, "BAD_REQUEST")


def control_problems(params: dict[str, str]) -> list[Problem]:
    """Control characters in a path parameter (no grammar allows them; they break routing)."""
    return [
        Problem(f"path parameter {k}: control characters are not allowed", param_code(k, v))
        for k, v in params.items()
        if any(ord(c) < 32 or ord(c) == 127 for c in v)
    ]


def describe(exc: BaseException) -> Problem:
    """A readable rule for an openapi-core error, naming the parameter or body it concerns."""
    if isinstance(exc, ParameterValidationError):
        text = _text(exc)
        cause = "" if isinstance(exc, MissingParameterError) else _cause_text(exc, reveal=True)
        value = getattr(exc.__cause__, "value", None)
        code = param_code(exc.name, value, exc.location)
        return Problem(f"{text}: {cause}" if cause else text, code)
    if isinstance(exc, MediaTypeNotFound):
        return Problem(
            f"content type {exc.mimetype!r} is not one of {list(exc.availableMimetypes)}",
            "UNSUPPORTED_MEDIA_TYPE",
            415,
        )
    if isinstance(exc, RequestBodyValidationError):
        cause = exc.__cause__
        if isinstance(cause, MediaTypeNotFound):
            return describe(cause)
        if isinstance(exc, MissingRequiredRequestBody):
            return Problem("request body is required")
        detail = _cause_text(exc)
        return Problem(f"request body: {detail}" if detail else _text(exc))
    detail = _cause_text(exc)
    if isinstance(exc.__cause__ or exc.__context__, InvalidSchemaValue):
        # openapi-core's own text quotes the whole value; the schema rules alone suffice.
        return Problem(f"{type(exc).__name__}: {detail}")
    text = _text(exc)
    return Problem(f"{text}: {detail}" if detail and detail not in text else text)


def headers_of(raw: list[tuple[bytes, bytes]]) -> Headers:
    return Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw])


class Contract:
    """The effective spec as OpenAPI 3, its route table and its validators."""

    def __init__(self, swagger: dict) -> None:
        self.openapi = convert(swagger)
        # jsonschema-path can cache resolved nodes but does not by default; the spec never
        # changes while the server runs, so every node resolved once stays resolved.
        self.spec = SchemaPath.from_dict(self.openapi, resolved_cache_maxsize=1 << 16)
        self.routes = RouteTable(self.openapi, self.spec)
        options = {
            "path_finder_cls": self.routes.finder_class(),
            "spec_validator_cls": None,  # validated once below, not per validator
            "extra_media_type_deserializers": dict.fromkeys(
                json_media_types(self.openapi), _json_loads
            ),
        }
        self._params = memoise(V30RequestParametersValidator(self.spec, **options))
        self._body = memoise(V30RequestBodyValidator(self.spec, **options))
        self._data = memoise(V30ResponseDataValidator(self.spec, **options))
        self._headers = memoise(V30ResponseHeadersValidator(self.spec, **options))
        self._results: OrderedDict[tuple, list[Problem]] = OrderedDict()

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        return self.routes.match(method, path)

    @staticmethod
    def validates_body(route: Route) -> bool:
        """Only operations taking plain JSON bodies; blobs and manifests stream past."""
        return bool(route.body_types) and all(is_plain_json(t) for t in route.body_types)

    def request_problems(self, request: Request, route: Route) -> list[Problem]:
        """What the request breaks. Parameter validation is a pure function of the values of
        the parameters the operation declares, so its result is cached on exactly those (a
        client repeating a request, e.g. HEAD of one manifest, is judged once)."""
        control = control_problems(request.parameters.path)
        if control:
            return control
        key = self._cache_key(request, route)
        cached = self._results.get(key)
        if cached is not None:
            self._results.move_to_end(key)
            problems = list(cached)
        else:
            problems = [describe(e) for e in self._params.iter_errors(request)]
            self._remember(key, tuple(problems))  # frozen: the body's problems are not cached
        if self.validates_body(route):
            problems += [describe(e) for e in self._body.iter_errors(request)]
        return problems

    @staticmethod
    def _cache_key(request: Request, route: Route) -> tuple:
        params = request.parameters
        return (
            route.label,
            tuple(sorted(params.path.items())),
            tuple((n, tuple(params.query.getlist(n))) for n in route.query_names),
            tuple((n, params.header.get(n)) for n in route.header_names),
        )

    def response_problems(
        self, request: Request, response: Response, body_checked: bool
    ) -> list[str]:
        """What the response breaks; cached like requests, on the operation, status, headers
        (``Date`` aside) and a digest of the body judged."""
        found = self.routes.match(request.method, request.path)
        key = None
        if found is not None:
            headers = tuple(sorted((k.lower(), v) for k, v in response.headers.items()))
            body = hashlib.sha256(response.data or b"").digest() if body_checked else b""
            key = ("response", found[0].label, response.status_code, body,
                   tuple(h for h in headers if h[0] not in ("date", "server")))  # fmt: skip
            cached = self._results.get(key)
            if cached is not None:
                self._results.move_to_end(key)
                return [p.rule for p in cached]
        errors = list(self._headers.iter_errors(request, response))
        if body_checked:
            errors += list(self._data.iter_errors(request, response))
        problems = [describe(e) for e in errors]
        if key is not None:
            self._remember(key, tuple(problems))
        return [p.rule for p in problems]

    def _remember(self, key: tuple, problems: tuple[Problem, ...]) -> None:
        self._results[key] = problems
        if len(self._results) > RESULT_CACHE:
            self._results.popitem(last=False)

    @staticmethod
    def response_is_binary(route: Route, status: int, content_type: str) -> bool:
        """A blob (or other non-JSON) body: checked by status and headers only."""
        responses = route.operation.get("responses", {})
        declared = responses.get(str(status)) or responses.get("default") or {}
        types = list((declared.get("content") or {}).keys())
        if content_type and "json" in content_type.lower():
            return False
        return any("json" not in t for t in types) or not types


def build_request(scope: dict, params: dict[str, str], body: bytes | None) -> Request:
    headers = headers_of(scope.get("headers", []))
    query = ImmutableMultiDict(_parse_query(scope.get("query_string", b"").decode("latin-1")))
    return Request(
        method=scope["method"].lower(),
        path=scope.get("path", "/"),
        parameters=RequestParameters(query=query, header=headers, path=params),
        content_type=headers.get("Content-Type", ""),
        body=body,
    )


def _parse_query(qs: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(qs, keep_blank_values=True)
