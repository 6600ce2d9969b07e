"""Read zot's own config file (JSON or YAML) unchanged and turn it into :class:`Settings`.

The file's structure is checked with a JSON Schema (``CONFIG_SCHEMA``), so a bad value is
reported with the key that holds it and what was expected, and the server refuses to start.
Keys zot knows but this server does not implement are reported as warnings, never silently
dropped. Values are never echoed in messages: a config file can hold secrets.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import yaml

from .cli import command
from .registry import Settings

log = logging.getLogger("zot_server.config")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
ACTIONS = ("read", "create", "update", "delete", "detectManifestCollision")


def _str(description: str) -> dict:
    return {"type": "string", "description": description}


def _bool(description: str) -> dict:
    return {"type": "boolean", "description": description}


_DURATION = {
    "type": "string",
    "pattern": r"^(0|((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+)$",
    "description": 'a duration as zot writes it, e.g. "2h", "24h", "1m30s"',
}
_NAMES = {"type": "array", "items": {"type": "string"}, "description": "a list of names"}
_ACTIONS = {
    "type": "array",
    "items": {"enum": list(ACTIONS)},
    "description": f"a list of actions among {', '.join(ACTIONS)}",
}
_POLICY = {
    "type": "object",
    "description": "a policy: {users, groups, actions}",
    "properties": {"users": _NAMES, "groups": _NAMES, "actions": _ACTIONS},
}
_POLICY_GROUP = {
    "type": "object",
    "description": "a repository policy group: {policies, defaultPolicy, anonymousPolicy}",
    "properties": {
        "policies": {"type": "array", "items": _POLICY, "description": "a list of policies"},
        "defaultPolicy": _ACTIONS,
        "anonymousPolicy": _ACTIONS,
    },
}
_ENABLE = {"type": "object", "description": "{enable: true|false}", "properties": {
    "enable": _bool("true or false")}}  # fmt: skip

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "description": "a zot config document (an object)",
    "required": ["storage"],
    "properties": {
        "distSpecVersion": _str("the distribution spec version, a string such as 1.1.1"),
        "storage": {
            "type": "object",
            "description": "the storage section (an object)",
            "required": ["rootDirectory"],
            "properties": {
                "rootDirectory": {**_str("a directory path"), "minLength": 1},
                "dedupe": _bool("true or false"),
                "commit": _bool("true or false"),
                "gc": _bool("true or false"),
                "gcDelay": _DURATION,
                "gcInterval": _DURATION,
                "retention": {
                    "type": "object",
                    "description": "{delay, policies}",
                    "properties": {
                        "delay": _DURATION,
                        "policies": {
                            "type": "array",
                            "description": "a list of {repositories, deleteUntagged}",
                            "items": {
                                "type": "object",
                                "description": "{repositories, deleteUntagged}",
                                "properties": {
                                    "repositories": _NAMES,
                                    "deleteUntagged": _bool("true or false"),
                                },
                            },
                        },
                    },
                },
            },
        },
        "http": {
            "type": "object",
            "description": "the http section (an object)",
            "properties": {
                "address": _str("an address to listen on, e.g. 127.0.0.1"),
                "port": {
                    "anyOf": [
                        {"type": "integer", "minimum": 1, "maximum": 65535},
                        {"type": "string", "pattern": r"^[0-9]{1,5}$"},
                    ],
                    "description": "a port number 1-65535 (zot writes it as a string)",
                },
                "realm": _str("the realm named in the Basic challenge"),
                "tls": {
                    "type": "object",
                    "description": "{cert, key} file paths",
                    "required": ["cert", "key"],
                    "properties": {
                        "cert": _str("a certificate file path"),
                        "key": _str("a private key file path"),
                        "cacert": _str("a CA certificate file path"),
                    },
                },  # fmt: skip
                "compat": {
                    "type": "array",
                    "items": {"enum": ["docker2s2"]},
                    "description": 'a list of compatibility modes (only "docker2s2")',
                },
                "auth": {
                    "type": "object",
                    "description": "the auth section (an object)",
                    "properties": {
                        "htpasswd": {
                            "type": "object",
                            "description": "{path} of a bcrypt htpasswd file",
                            "required": ["path"],
                            "properties": {"path": _str("an htpasswd file path")},
                        },
                        "apikey": _bool("true or false"),
                        "failDelay": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "a whole number of seconds >= 0",
                        },
                        "bearer": {
                            "type": "object",
                            "description": "{realm, service, cert}",
                            "required": ["realm", "service", "cert"],
                            "properties": {
                                "realm": _str("the token server URL"),
                                "service": _str("the service name tokens are issued for"),
                                "cert": _str("the token signer's certificate or public key"),
                            },
                        },
                    },
                },  # fmt: skip
                "accessControl": {
                    "type": "object",
                    "description": "{repositories, adminPolicy, groups}",
                    "properties": {
                        "repositories": {
                            "type": "object",
                            "description": "repository glob -> policy group",
                            "additionalProperties": _POLICY_GROUP,
                        },
                        "adminPolicy": _POLICY,
                        "groups": {
                            "type": "object",
                            "description": "group name -> {users}",
                            "additionalProperties": {
                                "type": "object",
                                "description": "{users}",
                                "properties": {"users": _NAMES},
                            },
                        },
                    },
                },
            },
        },
        "log": {
            "type": "object",
            "description": "the log section (an object)",
            "properties": {
                "level": {
                    "enum": ["debug", "info", "warn", "error", "panic", "fatal"],
                    "description": "one of debug, info, warn, error, panic, fatal",
                },
            },  # fmt: skip
        },
        "extensions": {
            "type": "object",
            "description": "the extensions section (an object)",
            "properties": {
                "mgmt": _ENABLE,
                "contract": {  # zot-server's own section (zot_server.contract), not zot's
                    "type": "object",
                    "description": "{strict, report}",
                    "properties": {
                        "strict": _bool("true or false"),
                        "report": _str("a report file path"),
                    },
                },  # fmt: skip
                "search": _ENABLE,
                "ui": _ENABLE,
                "trust": {
                    "type": "object",
                    "description": "{enable, cosign, notation}",
                    "properties": {
                        "enable": _bool("true or false"),
                        "cosign": _bool("true or false"),
                        "notation": _bool("true or false"),
                    },
                },  # fmt: skip
            },
        },
    },
}

# Keys the schema lists only so that they are not called unknown, but which change nothing
# here beyond what docs/auth.md says.
_PARTIAL = {
    "extensions.search": "no GraphQL search; only enables userprefs (with ui), as in zot",
    "extensions.ui": "no web UI; only enables userprefs (with search) and mgmt, as in zot",
    "http.tls.cacert": "client certificates (mTLS) are not verified",
}


class ConfigError(ValueError):
    """The config file cannot be used; ``problems`` name each key and what was expected."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


@dataclass
class Checked:
    """A config document with what is wrong (errors) and what is ignored (warnings)."""

    document: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_duration(text: str) -> float:
    """A Go duration ("2h", "1m30s", "500ms") in seconds."""
    if text == "0":
        return 0.0
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def read_document(path: str) -> dict[str, Any]:
    """JSON if it parses as JSON, else YAML (zot accepts both, whatever the extension)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(path, [f"neither valid JSON nor valid YAML{where}"]) from None
    if not isinstance(doc, dict):
        raise ConfigError(path, ["the document must be an object (a mapping of keys)"])
    return doc


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(document)"


def _unknown_keys(node: Any, schema: dict, prefix: str, out: list[str]) -> None:
    if not isinstance(node, dict):
        return
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if props and key in props:
            _unknown_keys(value, props[key], name, out)
        elif isinstance(extra, dict):
            _unknown_keys(value, extra, name, out)
        elif props is not None:
            out.append(f"{name}: not implemented by zot-server, ignored")


def check_document(doc: dict[str, Any]) -> Checked:
    """Structure (JSON Schema), then what a schema cannot say: files, combinations."""
    checked = Checked(doc)
    validator = jsonschema.Draft202012Validator(CONFIG_SCHEMA)
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        expected = err.schema.get("description") if isinstance(err.schema, dict) else None
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else err.message
            key = _key([*err.absolute_path, missing])
            checked.errors.append(f"{key}: required, expected {_describe_missing(err, missing)}")
            continue
        got = type(err.instance).__name__
        checked.errors.append(
            f"{_key(err.absolute_path)}: expected {expected or err.message} (got a {got})"
        )
    _unknown_keys(doc, CONFIG_SCHEMA, "", checked.warnings)
    for key, why in _PARTIAL.items():
        if _lookup(doc, key) is not None:
            checked.warnings.append(f"{key}: {why}")
    for i, policy in enumerate(_lookup(doc, "storage.retention.policies") or []):
        if isinstance(policy, dict) and "**" not in (policy.get("repositories") or []):
            checked.warnings.append(
                f"storage.retention.policies[{i}]: only a policy for all repositories ('**') "
                "is implemented; this one is ignored"
            )
    if not checked.errors:
        _check_semantics(doc, checked.errors)
    return checked


def _describe_missing(err, missing: str) -> str:
    sub = err.schema.get("properties", {}).get(missing, {})
    return sub.get("description", "a value")


def _lookup(doc: dict, dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _readable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.R_OK)


def _check_semantics(doc: dict, errors: list[str]) -> None:
    auth = _lookup(doc, "http.auth") or {}
    htpasswd = _lookup(doc, "http.auth.htpasswd.path")
    if htpasswd is not None:
        if not _readable(htpasswd):
            errors.append("http.auth.htpasswd.path: expected a readable file")
        else:
            from .auth.htpasswd import HtpasswdError, load_htpasswd

            try:
                load_htpasswd(htpasswd)
            except HtpasswdError as exc:
                errors.append(f"http.auth.htpasswd.path: {exc}")
    bearer_cert = _lookup(doc, "http.auth.bearer.cert")
    if bearer_cert is not None:
        from .auth.bearer import BearerError, load_public_key

        try:
            load_public_key(bearer_cert)
        except BearerError as exc:
            errors.append(f"http.auth.bearer.cert: {exc}")
    for part in ("cert", "key"):
        value = _lookup(doc, f"http.tls.{part}")
        if value is not None and not _readable(value):
            errors.append(f"http.tls.{part}: expected a readable file")
    if auth.get("apikey") and htpasswd is None:
        errors.append("http.auth.apikey: expected htpasswd authentication to be configured too")
    access = _lookup(doc, "http.accessControl") or {}
    repos = access.get("repositories") or {}
    for pattern in repos:
        if not pattern or pattern.startswith("/"):
            errors.append(f"http.accessControl.repositories.{pattern}: expected a relative glob")
        else:
            try:
                fnmatch.translate(pattern)
            except re.error:
                errors.append(f"http.accessControl.repositories.{pattern}: expected a glob")
    has_auth = htpasswd is not None or bearer_cert is not None
    only_anonymous = all(
        not group.get("policies") and not group.get("defaultPolicy") for group in repos.values()
    ) and not (access.get("adminPolicy") or {}).get("users")
    if access and not has_auth and not only_anonymous:
        errors.append(
            "http.accessControl: expected an authentication method (htpasswd or bearer), "
            "or only anonymousPolicy policies"
        )


def check_file(path: str) -> Checked:
    try:
        doc = read_document(path)
    except FileNotFoundError:
        raise ConfigError(path, ["no such file"]) from None
    return check_document(doc)


def settings_from_document(doc: dict[str, Any]) -> Settings:
    """Map the zot keys this server implements onto Settings (the raw document is kept)."""
    settings = Settings(config=doc)
    storage = doc.get("storage", {})
    http = doc.get("http", {})
    settings.root = storage.get("rootDirectory", settings.root)
    if "dedupe" in storage:
        settings.dedupe = storage["dedupe"]
    if "commit" in storage:  # zot's name for fsync on every write; on here unless set false
        settings.fsync = storage["commit"]
    if "gc" in storage:
        settings.gc = storage["gc"]
    if "gcDelay" in storage:
        settings.gc_delay = parse_duration(storage["gcDelay"])
    if "gcInterval" in storage:
        settings.gc_interval = parse_duration(storage["gcInterval"])
    retention = storage.get("retention", {})
    if "delay" in retention:
        settings.retention_delay = parse_duration(retention["delay"])
    # Untagged manifests go registry-wide only: a policy must cover every repository ("**").
    settings.gc_untagged = any(
        policy.get("deleteUntagged") and "**" in policy.get("repositories", [])
        for policy in retention.get("policies", [])
    )
    settings.address = http.get("address", settings.address)
    if "port" in http:
        settings.port = int(http["port"])
    settings.realm = http.get("realm", settings.realm)
    settings.compat = list(http.get("compat", []))
    tls = http.get("tls")
    if tls:
        settings.tls_cert, settings.tls_key = tls["cert"], tls["key"]
    settings.log_level = doc.get("log", {}).get("level", settings.log_level)
    return settings


def load_settings(path: str) -> Settings:
    """Settings from a zot config file; a bad file stops the start, naming every bad key."""
    try:
        checked = check_file(path)
    except ConfigError as exc:
        raise SystemExit(f"zot-server: refusing to start: {exc}") from None
    for warning in checked.warnings:
        log.warning("config %s: %s", path, warning)
    if checked.errors:
        raise SystemExit(f"zot-server: refusing to start: {ConfigError(path, checked.errors)}")
    settings = settings_from_document(checked.document)
    settings.config_path = os.path.abspath(path)
    return settings


def _verify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="a zot config file (JSON or YAML)")


@command("verify", _verify_arguments)
def verify(args: argparse.Namespace) -> int:
    """Check a config file without starting, as ``zot verify`` does."""
    try:
        checked = check_file(args.config)
    except ConfigError as exc:
        print(f"error: {exc}")
        return 1
    for warning in checked.warnings:
        print(f"warning: {warning}")
    for error in checked.errors:
        print(f"error: {error}")
    if checked.errors:
        print(f"{args.config}: invalid ({len(checked.errors)} error(s))")
        return 1
    print(f"{args.config}: config file is valid")
    return 0
