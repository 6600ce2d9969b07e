"""The Swagger 2.0 -> OpenAPI 3.0 converter, on small documents and on the effective spec."""

from __future__ import annotations

from openapi_spec_validator import validate

from zot_server.contract.convert import convert
from zot_server.spec import effective_spec, load_swagger

SMALL = {
    "swagger": "2.0",
    "info": {"title": "t", "version": "1"},
    "basePath": "/api",
    "consumes": ["application/json"],
    "produces": ["application/json"],
    "securityDefinitions": {
        "basic": {"type": "basic"},
        "key": {"type": "apiKey", "name": "X-Key", "in": "header"},
        "oauth": {
            "type": "oauth2",
            "flow": "accessCode",
            "authorizationUrl": "https://a/x",
            "tokenUrl": "https://a/t",
            "scopes": {"read": "r"},
        },
    },  # fmt: skip
    "definitions": {
        "Thing": {
            "type": "object",
            "properties": {
                "child": {"$ref": "#/definitions/Child"},
                "note": {"type": "string", "x-nullable": True},
            },
        },  # fmt: skip
        "Child": {"type": "object"},
        "oci.ErrorResponse": {"type": "object"},
    },
    "paths": {
        "/things/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"}],
            "put": {
                "parameters": [
                    {
                        "name": "body",
                        "in": "body",
                        "required": True,
                        "schema": {"$ref": "#/definitions/Thing"},
                    },
                    {
                        "name": "tag",
                        "in": "query",
                        "type": "array",
                        "items": {"type": "string"},
                        "collectionFormat": "multi",
                    },
                    {
                        "name": "n",
                        "in": "query",
                        "type": "integer",
                        "format": "int32",
                        "enum": [1, 2],
                    },
                ],  # fmt: skip
                "responses": {
                    "201": {"description": "made", "headers": {"Location": {"type": "string"}}},
                    "404": {
                        "description": "no",
                        "schema": {"$ref": "#/definitions/oci.ErrorResponse"},
                    },
                },
            },
        },
        "/files": {
            "post": {
                "consumes": ["multipart/form-data"],
                "parameters": [{"name": "f", "in": "formData", "type": "file", "required": True}],
                "responses": {"200": {"description": "ok"}},
            },
            "get": {
                "produces": ["application/octet-stream", "application/json"],
                "responses": {
                    "200": {"description": "bytes", "schema": {"type": "file"}},
                    "default": {
                        "description": "err",
                        "schema": {"$ref": "#/definitions/oci.ErrorResponse"},
                    },
                },
            },
        },
    },
}


def test_small_document_converts_to_valid_openapi():
    out = convert(SMALL)
    validate(out)
    assert out["openapi"] == "3.0.3" and out["servers"] == [{"url": "/api"}]
    schemas = out["components"]["schemas"]
    assert schemas["Thing"]["properties"]["child"] == {"$ref": "#/components/schemas/Child"}
    assert schemas["Thing"]["properties"]["note"] == {"type": "string", "nullable": True}
    put = out["paths"]["/things/{id}"]["put"]
    body = put["requestBody"]
    assert body["required"] is True
    assert body["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
    }
    params = {p["name"]: p for p in put["parameters"]}
    assert params["tag"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert params["tag"]["style"] == "form" and params["tag"]["explode"] is True
    assert params["n"]["schema"] == {"type": "integer", "format": "int32", "enum": [1, 2]}
    assert out["paths"]["/things/{id}"]["parameters"][0]["schema"] == {"type": "string"}
    assert put["responses"]["201"]["headers"]["Location"]["schema"] == {"type": "string"}
    assert "content" not in put["responses"]["201"]
    form = out["paths"]["/files"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["f"] == {"type": "string", "format": "binary"}
    assert form["required"] == ["f"]
    get = out["paths"]["/files"]["get"]["responses"]
    # A file is the non-JSON types; an OCI error is JSON whatever the operation produces.
    assert list(get["200"]["content"]) == ["application/octet-stream"]
    assert get["200"]["content"]["application/octet-stream"]["schema"]["format"] == "binary"
    assert list(get["default"]["content"]) == ["application/json"]
    sec = out["components"]["securitySchemes"]
    assert sec["basic"] == {"type": "http", "scheme": "basic"}
    assert sec["key"] == {"type": "apiKey", "name": "X-Key", "in": "header"}
    assert sec["oauth"]["flows"]["authorizationCode"]["tokenUrl"] == "https://a/t"


def test_input_is_not_modified():
    import copy

    before = copy.deepcopy(SMALL)
    convert(SMALL)
    assert SMALL == before


def test_upstream_and_effective_specs_convert_to_valid_openapi():
    validate(convert(load_swagger()))  # the raw file too, object-typed header and all
    effective, _ = effective_spec()
    out = convert(effective)
    validate(out)
    assert len([m for item in out["paths"].values() for m in item]) == 27
    upload = out["paths"]["/v2/{name}/blobs/uploads/"]["post"]
    assert set(upload["responses"]["202"]["links"]) >= {"UploadChunk", "UploadFinish"}
    # Manifest and blob bodies are not described as JSON schemas: the middleware never reads
    # them (manifests are checked by zot_server.validation, blobs stream).
    assert "requestBody" not in out["paths"]["/v2/{name}/manifests/{reference}"]["put"]
    assert "requestBody" not in out["paths"]["/v2/{name}/blobs/uploads/{session_id}"]["patch"]
