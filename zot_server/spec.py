"""Load zot's swagger file and apply the corrections kept as data beside it.

``swagger/swagger.json`` stays exactly as upstream generates it. Where it contradicts the OCI
Distribution Specification, an entry in ``swagger/corrections.json`` says what to change, why,
and which section of the spec it follows. Corrections are applied in memory at start-up; the
result (the *effective spec*) is what the server routes, validates and serves.

A correction selects nodes of the document and JSON-merge-patches them (RFC 7386: ``null``
deletes a key). Selectors match paths after normalisation (``{anything}`` -> ``{}``, trailing
slash kept), so they keep working when upstream renames a path parameter. Each correction
reports whether it still changed anything, so ``zot-server spec check`` can tell which ones
upstream has since fixed.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_PARAM_RE = re.compile(r"\{[^}/]*\}")


def spec_dir() -> Path:
    """The swagger/ folder: the checkout's when running from one, else the installed copy."""
    checkout = Path(__file__).resolve().parent.parent / "swagger"
    if (checkout / "swagger.json").is_file():
        return checkout
    # Installed: swagger/ ships as the data-only namespace package zot_server.spec_files.
    found = importlib.util.find_spec("zot_server.spec_files")
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError("swagger/ is neither in a checkout nor installed")
    return Path(list(found.submodule_search_locations)[0])


def normalize_path(path: str) -> str:
    """``/v2/{name}/blobs/{digest}`` -> ``/v2/{}/blobs/{}``: the shape, not the names."""
    return _PARAM_RE.sub("{}", path)


@dataclass
class Correction:
    id: str
    reason: str
    spec: str
    where: dict[str, Any]
    merge: dict[str, Any] | None = None
    copy_path_from: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Correction:
        missing = [k for k in ("id", "reason", "spec", "where") if k not in data]
        if missing:
            raise ValueError(f"correction {data.get('id', '?')}: missing {', '.join(missing)}")
        return cls(
            id=data["id"],
            reason=data["reason"],
            spec=data["spec"],
            where=data["where"],
            merge=data.get("merge"),
            copy_path_from=data.get("copy_path_from"),
        )


@dataclass
class CorrectionResult:
    id: str
    status: str  # "applied", "no-op" (upstream already agrees) or "no-target"
    targets: list[str] = field(default_factory=list)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, returning a new value."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
            continue
        merged = merge_patch(result.get(key), value)
        if key not in result and merged == {} and isinstance(value, dict):
            continue  # a patch that only deletes creates nothing where nothing was
        result[key] = merged
    return result


def _matches(pattern: str | list[str] | None, value: str) -> bool:
    if pattern is None:
        return True
    patterns = pattern if isinstance(pattern, list) else [pattern]
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _operations(doc: dict, where: dict) -> list[tuple[str, str, dict]]:
    wanted_path = where.get("path")
    wanted = None
    if wanted_path is not None:
        wanted = [
            normalize_path(p)
            for p in (wanted_path if isinstance(wanted_path, list) else [wanted_path])
        ]
    found = []
    for path, item in doc.get("paths", {}).items():
        if wanted is not None and not _matches(wanted, normalize_path(path)):
            continue
        for method, op in item.items():
            if method in HTTP_METHODS and _matches(where.get("method"), method):
                found.append((path, method, op))
    return found


def _apply_one(doc: dict, corr: Correction) -> CorrectionResult:
    where = corr.where
    result = CorrectionResult(corr.id, "no-target")
    changed = False

    def patch_node(container: dict, key: Any, label: str, create: dict | None = None) -> None:
        nonlocal changed
        before = container.get(key) if isinstance(container, dict) else container[key]
        if before is None and create is None:
            return
        base = before if before is not None else create
        after = merge_patch(base, corr.merge or {})
        result.targets.append(label)
        if after != before:
            container[key] = after
            changed = True

    if "definition" in where:
        defs = doc.setdefault("definitions", {})
        patch_node(defs, where["definition"], f"definitions/{where['definition']}", create={})
    elif corr.copy_path_from is not None:
        source = next(
            (
                p
                for p in doc.get("paths", {})
                if normalize_path(p) == normalize_path(corr.copy_path_from)
            ),
            None,
        )
        target = where["path"]
        if source is not None:
            result.targets.append(f"paths/{target}")
            existing = next(
                (p for p in doc["paths"] if normalize_path(p) == normalize_path(target)), None
            )
            if existing is None:
                doc["paths"][target] = copy.deepcopy(doc["paths"][source])
                changed = True
    else:
        for path, method, op in _operations(doc, where):
            label = f"{method.upper()} {path}"
            if "parameter" in where:
                params = op.setdefault("parameters", [])
                index = next(
                    (
                        i
                        for i, p in enumerate(params)
                        if p.get("name") == where["parameter"]
                        and ("in" not in where or p.get("in") == where["in"])
                    ),
                    None,
                )
                if index is None:
                    if not where.get("create"):
                        continue
                    params.append({"name": where["parameter"], "in": where.get("in", "query")})
                    index = len(params) - 1
                    changed = True
                patch_node(params, index, f"{label} parameter {where['parameter']}", create={})
            elif "response" in where:
                responses = op.setdefault("responses", {})
                statuses = [s for s in responses if _matches(where["response"], str(s))]
                if where.get("create") and not any(c in "*?[" for c in where["response"]):
                    statuses = statuses or [where["response"]]
                for status in statuses:
                    create = {} if where.get("create") else None
                    patch_node(responses, status, f"{label} response {status}", create=create)
            else:
                patch_node(doc["paths"][path], method, label)
    if result.targets:
        result.status = "applied" if changed else "no-op"
    return result


def load_corrections(directory: Path | None = None) -> list[Correction]:
    path = (directory or spec_dir()) / "corrections.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    return [Correction.from_dict(entry) for entry in data["corrections"]]


def apply_corrections(
    doc: dict, corrections: list[Correction]
) -> tuple[dict, list[CorrectionResult]]:
    """Return the effective spec (a new document) and what each correction did."""
    effective = copy.deepcopy(doc)
    results = [_apply_one(effective, c) for c in corrections]
    return effective, results


def load_swagger(path: Path | str | None = None) -> dict:
    source = Path(path) if path else spec_dir() / "swagger.json"
    return json.loads(Path(source).read_text())


def effective_spec(
    swagger_path: Path | str | None = None, corrections_dir: Path | None = None
) -> tuple[dict, list[CorrectionResult]]:
    """Upstream file plus corrections, as the server uses it."""
    return apply_corrections(load_swagger(swagger_path), load_corrections(corrections_dir))
