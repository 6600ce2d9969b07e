"""``zot-server spec diff`` and ``spec check``: follow upstream's swagger file as it changes.

``diff`` compares two swagger files operation by operation (keyed by method and path shape,
so a renamed path parameter is a change, not a removal plus an addition). ``check`` says, for
one file, which operations this server handles (the rest answer 501) and what each correction
in ``swagger/corrections.json`` still does to it: ``applied``, ``no-op`` (upstream now agrees)
or ``no-target`` (what it corrected is gone).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .cli import command
from .spec import HTTP_METHODS, apply_corrections, load_corrections, load_swagger, normalize_path


def operations(doc: dict) -> dict[tuple[str, str], tuple[str, dict]]:
    """(METHOD, normalised path) -> (path as written, operation)."""
    found = {}
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                found[(method.upper(), normalize_path(path))] = (path, op)
    return found


def _keyed_diff(old: dict, new: dict) -> dict[str, list]:
    out = {
        "added": sorted(k for k in new if k not in old),
        "removed": sorted(k for k in old if k not in new),
        "changed": sorted(k for k in old if k in new and old[k] != new[k]),
    }
    return {k: v for k, v in out.items() if v}


def _params(op: dict) -> dict[str, dict]:
    return {f"{p.get('in')} {p.get('name')}": p for p in op.get("parameters") or []}


def operation_diff(old: dict, new: dict) -> dict[str, Any]:
    """What changed in one operation: parameters, responses and the rest of its fields."""
    out: dict[str, Any] = {}
    params = _keyed_diff(_params(old), _params(new))
    if params:
        out["parameters"] = params
    responses = _keyed_diff(
        {str(k): v for k, v in (old.get("responses") or {}).items()},
        {str(k): v for k, v in (new.get("responses") or {}).items()},
    )
    if responses:
        out["responses"] = responses
    rest = sorted(
        k
        for k in set(old) | set(new)
        if k not in ("parameters", "responses") and old.get(k) != new.get(k)
    )
    if rest:
        out["fields"] = rest
    return out


def diff(old: dict, new: dict) -> dict[str, Any]:
    """Operations added, removed and changed between two swagger documents, and schemas."""
    old_ops, new_ops = operations(old), operations(new)

    def label(key: tuple[str, str], ops: dict) -> str:
        return f"{key[0]} {ops[key][0]}"

    changed = {}
    for key in sorted(set(old_ops) & set(new_ops)):
        delta = operation_diff(old_ops[key][1], new_ops[key][1])
        if old_ops[key][0] != new_ops[key][0]:
            delta["path"] = {"old": old_ops[key][0], "new": new_ops[key][0]}
        if delta:
            changed[label(key, new_ops)] = delta
    return {
        "added": [label(k, new_ops) for k in sorted(set(new_ops) - set(old_ops))],
        "removed": [label(k, old_ops) for k in sorted(set(old_ops) - set(new_ops))],
        "changed": changed,
        "definitions": _keyed_diff(old.get("definitions") or {}, new.get("definitions") or {}),
    }


def check(swagger_path: str | None = None) -> dict[str, Any]:
    """Handlers per operation of the effective spec, and what each correction did."""
    from .resolver import OperationResolver

    effective, results = apply_corrections(load_swagger(swagger_path), load_corrections())
    resolver = OperationResolver()
    ops = []
    for (method, _), (path, op) in sorted(operations(effective).items()):
        fn = resolver.lookup(method, path, op.get("operationId"))
        handler = f"{fn.__module__}.{fn.__qualname__}" if fn else None
        ops.append({"method": method, "path": path, "handler": handler})
    return {
        "operations": ops,
        "corrections": [{"id": r.id, "status": r.status, "targets": r.targets} for r in results],
    }


def handled_operations(swagger_path: str | None = None) -> set[str]:
    """``"METHOD path"`` of every operation with a handler (the others answer 501)."""
    return {f"{o['method']} {o['path']}" for o in check(swagger_path)["operations"] if o["handler"]}


def _format_diff(result: dict[str, Any]) -> str:
    lines = [f"+ {op}" for op in result["added"]] + [f"- {op}" for op in result["removed"]]
    for op, delta in result["changed"].items():
        lines.append(f"~ {op}")
        if "path" in delta:
            lines.append(f"    path: {delta['path']['old']} -> {delta['path']['new']}")
        for part in ("parameters", "responses"):
            for kind, keys in delta.get(part, {}).items():
                lines.append(f"    {part} {kind}: {', '.join(keys)}")
        if delta.get("fields"):
            lines.append(f"    fields changed: {', '.join(delta['fields'])}")
    for kind, keys in result["definitions"].items():
        lines.append(f"  definitions {kind}: {', '.join(keys)}")
    return "\n".join(lines) if lines else "no differences"


def _format_check(result: dict[str, Any]) -> str:
    lines = ["operations:"]
    for op in result["operations"]:
        lines.append(f"  {op['method']:<7} {op['path']}  -> {op['handler'] or '501 (no handler)'}")
    lines.append("corrections:")
    for corr in result["corrections"]:
        note = {"no-op": "upstream already agrees", "no-target": "nothing left to correct"}
        extra = f"  ({note[corr['status']]})" if corr["status"] in note else ""
        lines.append(f"  {corr['status']:<9} {corr['id']}{extra}")
    return "\n".join(lines)


def _arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="spec_command", required=True)
    d = sub.add_parser("diff", help="operations added, removed or changed between two files")
    d.add_argument("old")
    d.add_argument("new")
    d.add_argument("--json", action="store_true")
    c = sub.add_parser("check", help="handlers and corrections for a swagger file")
    c.add_argument("file", nargs="?", help="default: swagger/swagger.json")
    c.add_argument("--json", action="store_true")


@command("spec", _arguments)
def run(args: argparse.Namespace) -> int:
    if args.spec_command == "diff":
        result = diff(load_swagger(args.old), load_swagger(args.new))
        text = _format_diff(result)
    else:
        result = check(args.file)
        text = _format_check(result)
    sys.stdout.write((json.dumps(result, indent=1) if args.json else text) + "\n")
    return 0
