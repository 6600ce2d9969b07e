"""The validation middleware over real HTTP: 400s naming the rule, streams left alone,
strict mode's response checks and the violation report."""

from __future__ import annotations

import json
import os

import requests

from tests.oci import OCTETS, Client, start_upload
from zot_server.contract.report import default_report_path, read_report
from zot_server.spec import load_swagger


def _error(r: requests.Response) -> dict:
    assert r.headers["Content-Type"] == "application/json", r.headers
    return r.json()["errors"][0]


def test_request_breaking_the_spec_gets_an_oci_400(make_server):
    server = make_server(extra_args=["--strict"])
    r = requests.get(
        server.url + "/v2/library/alpine/tags/list", params={"n": "ten"},
        headers={"X-Request-ID": "req-42"}, timeout=10,
    )  # fmt: skip
    assert r.status_code == 400
    err = _error(r)
    assert err["code"] == "BAD_REQUEST"
    assert err["detail"]["operation"] == "GET /v2/{name}/tags/list"
    assert any("parameter" in rule and "n" in rule for rule in err["detail"]["rules"])
    [recorded] = read_report(default_report_path(server.root))
    assert recorded["kind"] == "request" and recorded["request_id"] == "req-42"
    assert recorded["operation"] == "GET /v2/{name}/tags/list" and recorded["status"] == 400
    # ... and as a structured JSON line in the server's log.
    assert any(
        line.startswith("{") and json.loads(line).get("request_id") == "req-42"
        for line in server.log().splitlines()
    )


def test_name_and_digest_rules_use_their_oci_codes(make_server):
    server = make_server()
    r = requests.get(server.url + "/v2/Library/tags/list", timeout=10)
    assert r.status_code == 400 and _error(r)["code"] == "NAME_INVALID"
    assert "name" in _error(r)["detail"]["rules"][0]
    r = requests.get(server.url + "/v2/library/blobs/not-a-digest", timeout=10)
    assert r.status_code == 400 and _error(r)["code"] == "DIGEST_INVALID"
    r = requests.head(server.url + "/v2/Library/manifests/latest", timeout=10)
    assert r.status_code == 400 and r.content == b""  # HEAD: status only
    # Not strict: nothing is written to a report.
    assert not default_report_path(server.root).exists()


def test_multi_segment_names_pass_validation(make_server):
    server = make_server()
    r = requests.get(server.url + "/v2/a/b/c/tags/list", timeout=10)
    assert r.status_code == 404 and _error(r)["code"] == "NAME_UNKNOWN"
    digest = Client(server.url).push_blob("a/b/c", b"layer")
    r = requests.get(server.url + f"/v2/a/b/c/blobs/{digest}", timeout=10)
    assert r.status_code == 200 and r.content == b"layer"


def test_blob_bodies_are_not_read_for_validation(make_server):
    server = make_server(extra_args=["--strict"])
    client = Client(server.url)
    location = start_upload(client, "big/blob")
    body = os.urandom(3 << 20)  # bigger than the JSON body limit: would be refused if read
    r = requests.patch(location, data=body, headers=OCTETS, timeout=30)
    assert r.status_code == 202, r.text
    assert r.headers["Range"] == f"0-{len(body) - 1}"
    assert read_report(default_report_path(server.root)) == []


def test_oversized_json_body_is_refused(make_server):
    server = make_server()
    r = requests.post(
        server.url + "/zot/auth/apikey", data=b'{"label": "' + b"x" * (2 << 20) + b'"}',
        headers={"Content-Type": "application/json"}, timeout=30,
    )  # fmt: skip
    assert r.status_code == 413 and _error(r)["code"] == "PAYLOAD_TOO_LARGE"


def test_strict_mode_reports_server_responses_breaking_the_spec(make_server, tmp_path):
    # A spec whose repository list requires a "total": the server's catalog is then a bug.
    doc = load_swagger()
    doc["definitions"]["api.RepositoryList"]["required"] = ["total"]
    path = tmp_path / "swagger.json"
    path.write_text(json.dumps(doc))
    report = tmp_path / "violations.jsonl"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "distSpecVersion": "1.1.0",
        "storage": {"rootDirectory": str(tmp_path / "data")},
        "http": {"address": "127.0.0.1", "port": "5000"},
        "extensions": {"contract": {"strict": True, "report": str(report)}},
    }))  # fmt: skip
    server = make_server(extra_args=["--swagger", str(path), "--config", str(config)])
    r = requests.get(server.url + "/v2/_catalog", timeout=10)
    assert r.status_code == 200 and r.json() == {"repositories": []}  # passed on unchanged
    [bug] = read_report(report)
    assert bug["kind"] == "response" and bug["operation"] == "GET /v2/_catalog"
    assert "total" in bug["rules"][0]
    assert "total" in server.log()  # logged as a structured JSON line too


def test_openapi_json_is_served(make_server):
    server = make_server()
    doc = requests.get(server.url + "/openapi.json", timeout=10).json()
    assert doc["openapi"] == "3.0.3"
    assert "/v2/{name}/blobs/uploads/" in doc["paths"]


def test_violation_records_name_the_rule_not_the_value(make_server, tmp_path):
    # Violation records are logged; a body may hold a secret, so a record names where a value
    # breaks which keyword and never echoes the value (here: a repository name).
    doc = load_swagger()
    doc["definitions"]["api.RepositoryList"]["properties"]["repositories"]["items"] = {
        "type": "integer"
    }
    path = tmp_path / "swagger.json"
    path.write_text(json.dumps(doc))
    server = make_server(extra_args=["--swagger", str(path), "--strict"])
    Client(server.url).push_blob("very-secret-name", b"payload")
    r = requests.get(server.url + "/v2/_catalog", timeout=10)
    assert r.status_code == 200 and r.json() == {"repositories": ["very-secret-name"]}
    [bug] = read_report(default_report_path(server.root))
    assert bug["kind"] == "response"
    assert bug["rules"] and any(
        "repositories/0" in rule and "type" in rule for rule in bug["rules"]
    )
    assert "very-secret-name" not in json.dumps(bug)
    assert "very-secret-name" not in "".join(
        line
        for line in server.log().splitlines()
        if "zot_server.contract" in line or "rules" in line
    )


def test_contract_report_flag_sets_the_report_file(make_server, tmp_path):
    report = tmp_path / "elsewhere" / "violations.jsonl"
    server = make_server(extra_args=["--strict", "--contract-report", str(report)])
    r = requests.get(server.url + "/v2/a/tags/list", params={"n": "many"}, timeout=10)
    assert r.status_code == 400
    [recorded] = read_report(report)
    assert recorded["operation"] == "GET /v2/{name}/tags/list" and recorded["kind"] == "request"
    assert read_report(default_report_path(server.root)) == []


def test_a_bad_body_is_not_remembered_for_the_next_request(make_server):
    # The result cache holds parameter verdicts only: a first request with a broken JSON body
    # must not make the next, well-formed one (same parameters) fail as well.
    server = make_server()
    url = server.url + "/zot/auth/apikey"
    headers = {"Content-Type": "application/json"}
    bad = requests.post(url, data=b"{not json", headers=headers, timeout=10)
    assert bad.status_code == 400 and "request body" in " ".join(_error(bad)["detail"]["rules"])
    for _ in range(3):
        good = requests.post(url, json={"label": "ok"}, headers=headers, timeout=10)
        assert "request body" not in good.text, good.text
