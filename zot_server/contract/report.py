"""Spec violations as structured JSON: one log line each, and a report file client suites read.

The file is JSON lines, appended with one ``write`` per line on an ``O_APPEND`` descriptor,
so several worker processes can share it without interleaving.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("zot_server.contract")

REPORT_NAME = "contract-violations.jsonl"


@dataclass
class Violation:
    kind: str  # "request" (the client broke the spec) or "response" (the server did)
    operation: str  # "GET /v2/{name}/tags/list"
    rules: list[str]
    request_id: str
    method: str
    path: str
    status: int | None = None
    time: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def default_report_path(root: str | os.PathLike) -> Path:
    return Path(root) / ".zot-server" / REPORT_NAME


class Reporter:
    """Writes violations to the log (always) and to the report file (when one is set)."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = Path(path) if path else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, violation: Violation) -> None:
        line = violation.to_json()
        level = logging.ERROR if violation.kind == "response" else logging.WARNING
        log.log(level, line)
        if self.path is None:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


def read_report(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every violation recorded in a report file (none if the file does not exist)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]
