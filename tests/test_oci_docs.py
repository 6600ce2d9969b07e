"""docs/spec-coverage.md stays true: its corrections table is generated from
swagger/corrections.json, and every test it cites exists.

Regenerate the table with ``python3 tests/test_oci_docs.py``.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "spec-coverage.md"
BEGIN, END = "<!-- corrections:begin -->", "<!-- corrections:end -->"


def corrections_table() -> str:
    corrections = json.loads((ROOT / "swagger" / "corrections.json").read_text())["corrections"]
    rows = ["| id | why | spec section |", "| --- | --- | --- |"]
    for entry in corrections:
        reason = entry["reason"].replace("|", "\\|")
        rows.append(f"| `{entry['id']}` | {reason} | {entry.get('spec', '')} |")
    return "\n".join(rows)


def _section(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip()


def test_corrections_table_lists_every_correction():
    """Every correction id, and no other, is in the table (a reworded reason is no failure)."""
    listed = re.findall(r"^\| `([^`]+)` \|", _section(DOC.read_text()), re.MULTILINE)
    corrections = json.loads((ROOT / "swagger" / "corrections.json").read_text())["corrections"]
    assert listed == [c["id"] for c in corrections], (
        "docs/spec-coverage.md is stale: run python3 tests/test_oci_docs.py"
    )


def _test_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(f"{path.name}::{node.name}")
    return names


def test_cited_tests_exist():
    cited = set(re.findall(r"`(test_[a-z_]+\.py::test_\w+)`", DOC.read_text()))
    assert len(cited) > 40
    assert cited - _test_names() == set()


if __name__ == "__main__":
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + corrections_table() + "\n" + text[end:])
    sys.exit(0)
