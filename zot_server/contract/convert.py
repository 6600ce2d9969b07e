"""Convert a Swagger 2.0 document to OpenAPI 3.0, in memory, for openapi-core.

openapi-core validates OpenAPI 3 only and no maintained offline converter exists on PyPI, so
the project keeps its own. It covers what swaggo-generated zot files use: definitions and
``$ref``s, body/formData parameters, simple parameters, responses per ``produces``, response
headers, ``x-nullable``, ``type: file`` and security definitions.
"""

from __future__ import annotations

import copy
from typing import Any

from ..spec import HTTP_METHODS

ERROR_REF = "#/components/schemas/oci.ErrorResponse"
JSON = "application/json"
# Keys of a Swagger 2.0 parameter that move into the OpenAPI 3 parameter's ``schema``.
_SCHEMA_KEYS = (
    "type", "format", "items", "enum", "default", "maximum", "minimum", "exclusiveMaximum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
    "uniqueItems", "multipleOf",
)  # fmt: skip


def convert_schema(node: Any) -> Any:
    """A Swagger schema as an OpenAPI 3.0 schema (refs moved, x-nullable, file as binary)."""
    if isinstance(node, list):
        return [convert_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/definitions/", "#/components/schemas/", 1)
        elif key == "x-nullable":
            out["nullable"] = bool(value)
        elif key == "discriminator" and isinstance(value, str):
            out[key] = {"propertyName": value}
        elif key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            out[key] = {name: convert_schema(sub) for name, sub in value.items()}
        elif key == "collectionFormat":
            continue
        else:
            out[key] = convert_schema(value)
    if out.get("type") == "file":
        out["type"] = "string"
        out["format"] = "binary"
    return out


def _param_schema(param: dict) -> dict:
    schema = {k: copy.deepcopy(param[k]) for k in _SCHEMA_KEYS if k in param}
    if param.get("x-nullable"):
        schema["nullable"] = True
    return convert_schema(schema)


def _style(param: dict) -> dict:
    """collectionFormat -> style/explode (only for arrays)."""
    if param.get("type") != "array":
        return {}
    fmt = param.get("collectionFormat", "csv")
    where = param.get("in")
    if fmt == "multi":
        return {"style": "form", "explode": True}
    if fmt == "ssv":
        return {"style": "spaceDelimited", "explode": False}
    if fmt == "pipes":
        return {"style": "pipeDelimited", "explode": False}
    return {"style": "form", "explode": False} if where == "query" else {"style": "simple"}


def convert_parameter(param: dict) -> dict:
    if "$ref" in param:
        return {"$ref": param["$ref"].replace("#/parameters/", "#/components/parameters/", 1)}
    out = {k: param[k] for k in ("name", "in", "description", "required") if k in param}
    if param.get("in") == "path":
        out["required"] = True
    if param.get("allowEmptyValue"):
        out["allowEmptyValue"] = True
    out["schema"] = _param_schema(param)
    out.update(_style(param))
    return out


def _request_body(params: list[dict], consumes: list[str]) -> dict | None:
    body = next((p for p in params if p.get("in") == "body"), None)
    form = [p for p in params if p.get("in") == "formData"]
    if body is not None:
        schema = convert_schema(body.get("schema", {}))
        result: dict[str, Any] = {"content": {t: {"schema": schema} for t in consumes or [JSON]}}
        if body.get("description"):
            result["description"] = body["description"]
        result["required"] = bool(body.get("required"))
        return result
    if form:
        has_file = any(p.get("type") == "file" for p in form)
        types = consumes or [
            "multipart/form-data" if has_file else "application/x-www-form-urlencoded"
        ]
        schema = {
            "type": "object",
            "properties": {p["name"]: _param_schema(p) for p in form},
        }
        required = [p["name"] for p in form if p.get("required")]
        if required:
            schema["required"] = required
        return {"content": {t: {"schema": schema} for t in types}, "required": bool(required)}
    return None


def _is_error_schema(schema: dict) -> bool:
    return schema.get("$ref") == ERROR_REF


def convert_response(response: dict, produces: list[str]) -> dict:
    """Response ``schema`` becomes ``content`` for each produced type.

    An OCI error body is JSON whatever the operation produces otherwise, and a file is the
    non-JSON types (a blob GET produces octet-stream for the blob and JSON for its errors).
    """
    if "$ref" in response:
        return {"$ref": response["$ref"].replace("#/responses/", "#/components/responses/", 1)}
    out: dict[str, Any] = {"description": response.get("description", "")}
    if "schema" in response:
        schema = convert_schema(response["schema"])
        if _is_error_schema(schema):
            types = [JSON]
        elif schema.get("format") == "binary":
            types = [t for t in produces if "json" not in t] or ["application/octet-stream"]
        else:
            types = produces or [JSON]
        out["content"] = {t: {"schema": copy.deepcopy(schema)} for t in types}
    links = response.get("links") or response.get("x-links")  # schemathesis' Swagger 2.0 links
    if links:
        out["links"] = copy.deepcopy(links)
    headers = {}
    for name, header in (response.get("headers") or {}).items():
        converted: dict[str, Any] = {"schema": _param_schema(header)}
        if header.get("description"):
            converted["description"] = header["description"]
        headers[name] = converted
    if headers:
        out["headers"] = headers
    return out


def convert_operation(op: dict, doc: dict, path_params: list[dict]) -> dict:
    consumes = op.get("consumes", doc.get("consumes", []))
    produces = op.get("produces", doc.get("produces", []))
    out = {
        k: copy.deepcopy(op[k])
        for k in ("tags", "summary", "description", "operationId", "deprecated", "security")
        if k in op
    }
    out.update({k: copy.deepcopy(v) for k, v in op.items() if k.startswith("x-")})
    params = list(op.get("parameters") or [])
    simple = [convert_parameter(p) for p in params if p.get("in") not in ("body", "formData")]
    # A path-level parameter not overridden by the operation still applies to it.
    names = {(p.get("name"), p.get("in")) for p in params}
    inherited = [p for p in path_params if (p.get("name"), p.get("in")) not in names]
    body = _request_body(params + inherited, consumes)
    if simple:
        out["parameters"] = simple
    if body is not None:
        out["requestBody"] = body
    out["responses"] = {
        str(status): convert_response(resp, produces)
        for status, resp in (op.get("responses") or {}).items()
    } or {"default": {"description": ""}}
    return out


def _security_scheme(definition: dict) -> dict:
    kind = definition.get("type")
    desc = {"description": definition["description"]} if "description" in definition else {}
    if kind == "basic":
        return {"type": "http", "scheme": "basic", **desc}
    if kind == "apiKey":
        return {"type": "apiKey", "name": definition["name"], "in": definition["in"], **desc}
    if kind == "oauth2":
        flow_name = {
            "implicit": "implicit",
            "password": "password",
            "application": "clientCredentials",
            "accessCode": "authorizationCode",
        }[definition["flow"]]
        flow = {"scopes": definition.get("scopes", {})}
        for key in ("authorizationUrl", "tokenUrl"):
            if key in definition:
                flow[key] = definition[key]
        return {"type": "oauth2", "flows": {flow_name: flow}, **desc}
    return copy.deepcopy(definition)


def convert(doc: dict) -> dict:
    """The OpenAPI 3.0.3 form of a Swagger 2.0 document (the input is not modified)."""
    out: dict[str, Any] = {"openapi": "3.0.3", "info": copy.deepcopy(doc.get("info", {}))}
    out["info"].setdefault("title", "zot")
    out["info"].setdefault("version", "")
    base = doc.get("basePath") or ""
    if base and base != "/":
        out["servers"] = [{"url": base}]
    for key in ("tags", "externalDocs", "security"):
        if key in doc:
            out[key] = copy.deepcopy(doc[key])
    paths: dict[str, Any] = {}
    for path, item in (doc.get("paths") or {}).items():
        path_params = list(item.get("parameters") or [])
        new_item: dict[str, Any] = {}
        simple = [
            convert_parameter(p) for p in path_params if p.get("in") not in ("body", "formData")
        ]
        if simple:
            new_item["parameters"] = simple
        for method, op in item.items():
            if method in HTTP_METHODS:
                new_item[method] = convert_operation(op, doc, path_params)
        paths[path] = new_item
    out["paths"] = paths
    components: dict[str, Any] = {}
    if doc.get("definitions"):
        components["schemas"] = {k: convert_schema(v) for k, v in doc["definitions"].items()}
    if doc.get("parameters"):
        components["parameters"] = {k: convert_parameter(v) for k, v in doc["parameters"].items()}
    if doc.get("responses"):
        components["responses"] = {
            k: convert_response(v, doc.get("produces", [])) for k, v in doc["responses"].items()
        }
    if doc.get("securityDefinitions"):
        components["securitySchemes"] = {
            k: _security_scheme(v) for k, v in doc["securityDefinitions"].items()
        }
    if components:
        out["components"] = components
    return out
