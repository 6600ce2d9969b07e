"""zot's config file: accepted unchanged, durations as zot writes them, unknown keys warned
about by name, bad values refused by name, flags over the file, ``zot-server verify``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from argparse import Namespace

import pytest
import requests
import yaml
from auth_support import verify, write_config, write_htpasswd

from zot_server.cli import settings_from_args
from zot_server.config import parse_duration
from zot_server.testing import free_port


@pytest.mark.parametrize(
    "text, seconds",
    [("2h", 7200), ("24h", 86400), ("1m30s", 90), ("500ms", 0.5), ("1h0m0s", 3600), ("0", 0),
     ("1.5h", 5400), ("3us", 3e-6)],
)  # fmt: skip
def test_durations_as_zot_writes_them(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "2", "2 hours", "h", "1d", "-1h", "1h 2m"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def _full_doc(tmp_path) -> dict:
    htpasswd = write_htpasswd(tmp_path / "htpasswd", {"alice": "pw"})
    return {
        "distSpecVersion": "1.1.1",
        "storage": {"rootDirectory": str(tmp_path / "root"), "dedupe": True, "gc": True,
                    "gcDelay": "2h", "gcInterval": "24h"},
        "http": {"address": "127.0.0.1", "port": "8080", "realm": "zot", "compat": ["docker2s2"],
                 "auth": {"htpasswd": {"path": str(htpasswd)}, "apikey": True, "failDelay": 5},
                 "accessControl": {
                     "repositories": {"**": {"anonymousPolicy": ["read"],
                                             "defaultPolicy": ["read", "create"],
                                             "policies": [{"users": ["alice"], "groups": ["g"],
                                                           "actions": ["read", "update"]}]}},
                     "adminPolicy": {"users": ["alice"], "actions": ["read", "delete"]},
                     "groups": {"g": {"users": ["alice"]}}}},
        "log": {"level": "debug"},
        "extensions": {"mgmt": {"enable": True},
                       "trust": {"enable": True, "cosign": True, "notation": False}},
    }  # fmt: skip


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_a_full_zot_config_verifies_in_json_and_yaml(tmp_path, fmt):
    doc = _full_doc(tmp_path)
    path = tmp_path / f"config.{fmt}"
    path.write_text(json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc))
    result = verify(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "config file is valid" in result.stdout
    assert "warning" not in result.stdout  # every key of this document is implemented


def test_settings_follow_the_file_and_flags_override_it(tmp_path):
    doc = _full_doc(tmp_path)
    doc["http"]["tls"] = {"cert": str(tmp_path / "htpasswd"), "key": str(tmp_path / "htpasswd")}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    args = Namespace(config=str(path), root=None, address=None, port=None, workers=None)
    settings = settings_from_args(args)
    assert (settings.root, settings.address, settings.port) == (str(tmp_path / "root"),
                                                                "127.0.0.1", 8080)  # fmt: skip
    assert settings.gc_delay == 7200 and settings.gc_interval == 86400
    assert settings.tls_cert == str(tmp_path / "htpasswd") and settings.log_level == "debug"
    assert settings.config == doc  # the raw document is kept unchanged
    args = Namespace(config=str(path), root="/elsewhere", address="127.0.0.2", port=9999,
                     workers=None)  # fmt: skip
    settings = settings_from_args(args)
    assert (settings.root, settings.address, settings.port) == ("/elsewhere", "127.0.0.2", 9999)


def test_storage_commit_turns_fsync_off_only_when_false(tmp_path):
    doc = _full_doc(tmp_path)
    path = tmp_path / "config.json"

    def fsync_for(doc) -> bool:
        path.write_text(json.dumps(doc))
        args = Namespace(config=str(path), root=None, address=None, port=None, workers=None)
        return settings_from_args(args).fsync

    assert fsync_for(doc) is True  # zot defaults commit to false; this server to durable
    doc["storage"]["commit"] = False
    assert fsync_for(doc) is False
    doc["storage"]["commit"] = True
    assert fsync_for(doc) is True
    doc["storage"]["commit"] = "yes"
    path.write_text(json.dumps(doc))
    assert verify(path).returncode != 0  # a boolean, as in zot


def test_retention_delay_and_registry_wide_delete_untagged(tmp_path):
    doc = _full_doc(tmp_path)
    doc["storage"]["retention"] = {"delay": "90m", "policies": [
        {"repositories": ["**"], "deleteUntagged": True},
        {"repositories": ["infra/*"], "deleteUntagged": False}]}  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    settings = settings_from_args(Namespace(config=str(path), root=None, address=None,
                                            port=None, workers=None))  # fmt: skip
    assert settings.retention_delay == 5400 and settings.gc_untagged is True
    result = verify(path)
    assert result.returncode == 0
    assert "warning: storage.retention.policies[1]:" in result.stdout  # not silently dropped
    doc["storage"]["retention"]["policies"] = [{"repositories": ["infra/*"],
                                                "deleteUntagged": True}]  # fmt: skip
    path.write_text(json.dumps(doc))
    settings = settings_from_args(Namespace(config=str(path), root=None, address=None,
                                            port=None, workers=None))  # fmt: skip
    assert settings.gc_untagged is False


def test_unknown_keys_are_warnings_that_name_them(tmp_path):
    doc = _full_doc(tmp_path)
    doc["http"]["auth"]["ldap"] = {"address": "ldap.example", "bindPassword": "s3cr3t-bind"}
    doc["extensions"]["sync"] = {"enable": True}
    doc["frobnicate"] = 1
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    result = verify(path)
    assert result.returncode == 0, result.stdout
    for key in ("http.auth.ldap", "extensions.sync", "frobnicate"):
        assert f"warning: {key}:" in result.stdout
    assert "s3cr3t-bind" not in result.stdout + result.stderr


BAD_VALUES = [
    (("http", "port"), "eighty", "http.port"),
    (("http", "port"), 70000, "http.port"),
    (("http", "auth", "failDelay"), -1, "http.auth.failDelay"),
    (("http", "auth", "apikey"), "yes", "http.auth.apikey"),
    (("storage", "gcDelay"), "2 hours", "storage.gcDelay"),
    (("storage", "dedupe"), "true", "storage.dedupe"),
    (("log", "level"), "loud", "log.level"),
    (("http", "compat"), ["docker1"], "http.compat.0"),
    (("http", "accessControl", "repositories", "**", "defaultPolicy"), ["push"],
     "http.accessControl.repositories.**.defaultPolicy.0"),
    (("http", "auth", "htpasswd", "path"), "/nonexistent/htpasswd", "http.auth.htpasswd.path"),
    (("http", "auth", "bearer"), {"realm": "https://auth.example/token", "service": "s"},
     "http.auth.bearer.cert"),
]  # fmt: skip


@pytest.mark.parametrize("keys, value, named", BAD_VALUES, ids=[b[2] for b in BAD_VALUES])
def test_a_bad_value_is_refused_naming_the_key(tmp_path, keys, value, named):
    doc = _full_doc(tmp_path)
    node = doc
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    result = verify(path)
    assert result.returncode == 1
    assert f"error: {named}: " in result.stdout, result.stdout
    assert "expected" in result.stdout


def test_htpasswd_entries_must_be_bcrypt(tmp_path):
    doc = _full_doc(tmp_path)
    (tmp_path / "htpasswd").write_text("alice:$apr1$abc$def\n")  # htpasswd -m (MD5)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    result = verify(path)
    assert result.returncode == 1 and "http.auth.htpasswd.path: line 1" in result.stdout


def test_access_control_needs_authentication_unless_only_anonymous(tmp_path):
    doc = _full_doc(tmp_path)
    del doc["http"]["auth"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    assert "error: http.accessControl:" in verify(path).stdout
    doc["http"]["accessControl"] = {"repositories": {"**": {"anonymousPolicy": ["read"]}}}
    path.write_text(json.dumps(doc))
    assert verify(path).returncode == 0


def test_not_json_nor_yaml_and_missing_root(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{ this: is: not valid")
    result = verify(path)
    assert result.returncode == 1 and "neither valid JSON nor valid YAML" in result.stdout
    path.write_text(json.dumps({"storage": {}}))
    result = verify(path)
    assert result.returncode == 1 and "error: storage.rootDirectory: required" in result.stdout


def test_serve_refuses_to_start_on_a_bad_config(tmp_path):
    port = free_port()
    path = write_config(tmp_path / "bad.json", tmp_path / "root", port, {"port": "not-a-port"})
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "zot_server", "serve", "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "refusing to start" in result.stderr and "http.port" in result.stderr
    assert time.monotonic() - started < 30
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2)


def test_a_server_runs_from_a_yaml_config(make_server, tmp_path):
    root = tmp_path / "root"
    port = free_port()
    doc = {
        "distSpecVersion": "1.1.1",
        "storage": {"rootDirectory": str(root)},
        "http": {"address": "127.0.0.1", "port": str(port)},
        "log": {"level": "warn"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    running = make_server(root, port=port, extra_args=["--config", str(path)])
    r = requests.get(running.url + "/v2/", timeout=10)
    assert r.status_code == 200 and r.json() == {}


@pytest.mark.parametrize("level, booting_logged", [("info", True), ("error", False)])
def test_log_level_sets_what_the_server_logs(make_server, tmp_path, level, booting_logged):
    # gunicorn logs "Booting worker" at info: shown at zot's info level, not at error.
    root = tmp_path / "root"
    port = free_port()
    doc = {
        "storage": {"rootDirectory": str(root)},
        "http": {"address": "127.0.0.1", "port": str(port)},
        "log": {"level": level},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    running = make_server(root, port=port, extra_args=["--config", str(path)])
    assert requests.get(running.url + "/v2/", timeout=10).status_code == 200
    assert ("Booting worker" in running.log()) is booting_logged, running.log()[-2000:]
