"""The route table openapi-core is given instead of its single-segment path finder."""

from __future__ import annotations

import pytest
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

from zot_server.contract.validator import Contract
from zot_server.spec import effective_spec


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(effective_spec()[0])


@pytest.mark.parametrize(
    ("method", "path", "template", "params"),
    [
        ("GET", "/v2/_catalog", "/v2/_catalog", {}),
        ("GET", "/v2/a/b/c/tags/list", "/v2/{name}/tags/list", {"name": "a/b/c"}),
        ("POST", "/v2/a/b/blobs/uploads/", "/v2/{name}/blobs/uploads/", {"name": "a/b"}),
        ("POST", "/v2/a/b/blobs/uploads", "/v2/{name}/blobs/uploads", {"name": "a/b"}),
        ("PATCH", "/v2/a/blobs/uploads/u1", "/v2/{name}/blobs/uploads/{session_id}",
         {"name": "a", "session_id": "u1"}),
        ("GET", "/v2/a/manifests/b/manifests/v1", "/v2/{name}/manifests/{reference}",
         {"name": "a/manifests/b", "reference": "v1"}),
        ("GET", "/oras/artifacts/v1/x/y/manifests/sha256:1/referrers",
         "/oras/artifacts/v1/{name}/manifests/{digest}/referrers",
         {"name": "x/y", "digest": "sha256:1"}),
    ],
)  # fmt: skip
def test_match(contract, method, path, template, params):
    route, found = contract.match(method, path)
    assert route.template == template
    assert found == params


def test_finder_answers_openapi_core(contract):
    finder = contract.routes.finder_class()(contract.spec)
    found = finder.find("get", "http://localhost/v2/a/b/blobs/sha256:00")
    assert found.path_result.variables == {"name": "a/b", "digest": "sha256:00"}
    with pytest.raises(OperationNotFound):
        finder.find("post", "http://localhost/v2/a/tags/list")
    with pytest.raises(PathNotFound):
        finder.find("get", "http://localhost/nowhere")


def test_repeated_requests_are_judged_once(contract):
    from zot_server.contract.validator import build_request

    scope = {"method": "GET", "path": "/v2/r/tags/list", "query_string": b"n=x", "headers": []}
    route, params = contract.match("GET", scope["path"])
    first = contract.request_problems(build_request(scope, params, None), route)
    second = contract.request_problems(build_request(scope, params, None), route)
    assert first == second and first[0].rule.startswith("Query parameter error: n")
    ok = dict(scope, query_string=b"n=3")
    assert contract.request_problems(build_request(ok, params, None), route) == []
