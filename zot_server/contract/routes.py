"""Match a request path to an operation of the spec, names spanning several segments.

openapi-core's own path finder turns every ``{param}`` into ``[^/]*``, so ``library/alpine``
never matches ``/v2/{name}/...``. Here a parameter with ``format: path`` (the correction
``name-spans-segments``) matches one or more segments; the table is compiled once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from jsonschema_path import SchemaPath
from openapi_core.templating.datatypes import TemplateResult
from openapi_core.templating.paths.datatypes import PathOperationServer
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

from ..spec import HTTP_METHODS

_PARAM = re.compile(r"\{([^}/]+)\}")


@dataclass
class Route:
    method: str  # lower case, as in the spec
    template: str
    regex: re.Pattern
    literal: int  # characters outside parameters: more is more specific
    operation: dict
    path_spec: SchemaPath
    op_spec: SchemaPath
    body_types: list[str] = field(default_factory=list)
    query_names: tuple[str, ...] = ()  # declared query and header parameters: what validation
    header_names: tuple[str, ...] = ()  # reads, so what its cached result depends on

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.template}"


def _multi_segment(op: dict, item: dict) -> set[str]:
    params = list(item.get("parameters") or []) + list(op.get("parameters") or [])
    return {
        p["name"]
        for p in params
        if p.get("in") == "path" and (p.get("schema") or {}).get("format") == "path"
    }


def compile_template(template: str, multi: set[str]) -> re.Pattern:
    parts, last = [], 0
    for m in _PARAM.finditer(template):
        parts.append(re.escape(template[last : m.start()]))
        name = m.group(1)
        group = re.sub(r"\W", "_", name)
        parts.append(f"(?P<{group}>.+?)" if name in multi else f"(?P<{group}>[^/]+)")
        last = m.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


class RouteTable:
    """Every (method, path template) of an OpenAPI 3 document, most specific first."""

    def __init__(self, openapi: dict, spec: SchemaPath) -> None:
        self.routes: list[Route] = []
        for template, item in (openapi.get("paths") or {}).items():
            for method, op in item.items():
                if method not in HTTP_METHODS:
                    continue
                multi = _multi_segment(op, item)
                body = (op.get("requestBody") or {}).get("content") or {}
                declared = list(item.get("parameters") or []) + list(op.get("parameters") or [])
                self.routes.append(
                    Route(
                        method=method,
                        template=template,
                        regex=compile_template(template, multi),
                        literal=len(_PARAM.sub("", template)),
                        operation=op,
                        path_spec=spec / "paths" / template,
                        op_spec=spec / "paths" / template / method,
                        body_types=list(body),
                        query_names=tuple(p["name"] for p in declared if p.get("in") == "query"),
                        header_names=tuple(p["name"] for p in declared if p.get("in") == "header"),
                    )
                )
        self.routes.sort(key=lambda r: -r.literal)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        method = method.lower()
        for route in self.routes:
            if route.method != method:
                continue
            m = route.regex.match(path)
            if m:
                names = _PARAM.findall(route.template)
                return route, dict(zip(names, m.groups(), strict=True))
        return None

    def has_path(self, path: str) -> bool:
        return any(r.regex.match(path) for r in self.routes)

    def finder_class(self) -> type:
        """A ``path_finder_cls`` for openapi-core that answers from this table."""
        table = self
        server = SchemaPath.from_dict({"url": "/"})

        class TableFinder:
            def __init__(self, spec: SchemaPath, base_url: str | None = None) -> None:
                self.spec = spec

            def find(self, method: str, full_url: str) -> PathOperationServer:
                path = urlsplit(full_url).path
                found = table.match(method, path)
                if found is None:
                    if table.has_path(path):
                        raise OperationNotFound(full_url, method)
                    raise PathNotFound(full_url)
                route, params = found
                return PathOperationServer(
                    route.path_spec,
                    route.op_spec,
                    server,
                    TemplateResult(route.template, params),
                    TemplateResult("/", {}),
                )

        return TableFinder
