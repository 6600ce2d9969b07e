"""A small keep-alive HTTP client, one per thread: cheap enough that the registry is measured.

``requests`` costs ~0.3 ms of client CPU per call here; ``http.client`` with 1 MiB send blocks
and ``readinto`` a reused buffer keeps the load generator off the critical path.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import urlsplit

BLOCK = 1 << 20


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes | None  # kept only when asked for; large bodies are counted and dropped
    size: int
    ttfb: float  # seconds from sending the request to the status line


@dataclass
class Tally:
    """What one thread saw: statuses of every HTTP call, first-byte times, bytes moved."""

    statuses: dict[int, int] = field(default_factory=dict)
    ttfbs: list[float] = field(default_factory=list)


class Client:
    """HTTP/1.1 to one registry over one connection, re-opened after an error."""

    def __init__(self, base_url: str, timeout: float = 120.0, tally: Tally | None = None) -> None:
        parts = urlsplit(base_url)
        self.scheme = parts.scheme or "http"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.timeout = timeout
        self.tally = tally if tally is not None else Tally()
        self._conn: http.client.HTTPConnection | None = None
        self._buffer = bytearray(BLOCK)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self.host, self.port, timeout=self.timeout, blocksize=BLOCK)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        target: str,
        body: bytes | BinaryIO | None = None,
        headers: dict[str, str] | None = None,
        keep: bool = True,
    ) -> Reply:
        """One call; ``target`` is a path or an absolute URL (a Location header)."""
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self._connection()
        started = time.perf_counter()
        try:
            conn.request(method, target, body=body, headers=headers or {})
            response = conn.getresponse()
            ttfb = time.perf_counter() - started
            data, size = self._read(response, keep and method != "HEAD")
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        self.tally.statuses[response.status] = self.tally.statuses.get(response.status, 0) + 1
        self.tally.ttfbs.append(ttfb)
        if response.will_close:
            self.close()
        return Reply(response.status, response.headers, data, size, ttfb)

    def _read(self, response: http.client.HTTPResponse, keep: bool) -> tuple[bytes | None, int]:
        length = response.length
        if keep and (length is None or length <= 4 * BLOCK):
            data = response.read()
            return data, len(data)
        view = memoryview(self._buffer)
        size = 0
        while True:
            n = response.readinto(view)
            if not n:
                return None, size
            size += n
