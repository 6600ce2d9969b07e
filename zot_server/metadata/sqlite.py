""":class:`MetaStore` in an embedded SQLite file, shared by all worker processes.

WAL mode lets readers run while one process writes; a busy timeout makes concurrent writers
wait instead of failing. Each process (and thread) opens its own connection, because a
connection must not cross a ``fork`` or be shared between threads.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from .base import ApiKey, MetaStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    user TEXT NOT NULL,
    label TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expiration TEXT,
    creator_ua TEXT NOT NULL,
    generated_by TEXT NOT NULL,
    last_used TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_user ON api_keys (user);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS preferences (
    user TEXT NOT NULL,
    kind TEXT NOT NULL,
    repo TEXT NOT NULL,
    PRIMARY KEY (user, kind, repo)
);
"""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class SQLiteMetaStore(MetaStore):
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)  # commits by itself; idempotent

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so read-modify-write steps are atomic."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- API keys ---------------------------------------------------------------------------
    def add_api_key(self, key_hash: str, key: ApiKey) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key_hash, key.uuid, key.user, key.label, json.dumps(key.scopes),
                 _iso(key.created_at), _iso(key.expiration), key.creator_ua, key.generated_by,
                 _iso(key.last_used)),
            )  # fmt: skip

    @staticmethod
    def _key(row: tuple) -> ApiKey:
        uuid, user, label, scopes, created, expiration, ua, by, last = row
        return ApiKey(uuid=uuid, user=user, label=label, scopes=json.loads(scopes),
                      created_at=_time(created), expiration=_time(expiration), creator_ua=ua,
                      generated_by=by, last_used=_time(last))  # fmt: skip

    _COLUMNS = (
        "uuid, user, label, scopes, created_at, expiration, creator_ua, generated_by, last_used"
    )

    def api_key(self, key_hash: str) -> ApiKey | None:
        row = (
            self._connection()
            .execute(f"SELECT {self._COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,))
            .fetchone()
        )
        return self._key(row) if row else None

    def api_keys(self, user: str) -> list[ApiKey]:
        rows = self._connection().execute(
            f"SELECT {self._COLUMNS} FROM api_keys WHERE user = ? ORDER BY created_at", (user,)
        )
        return [self._key(row) for row in rows]

    def revoke_api_key(self, user: str, uuid: str) -> bool:
        with self._tx() as db:
            cur = db.execute("DELETE FROM api_keys WHERE user = ? AND uuid = ?", (user, uuid))
            return cur.rowcount > 0

    def touch_api_key(self, key_hash: str, when: datetime) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE api_keys SET last_used = ? WHERE key_hash = ?", (_iso(when), key_hash)
            )

    # -- sessions ---------------------------------------------------------------------------
    def add_session(self, token_hash: str, user: str, expires: datetime) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE expires < ?", (_iso(datetime.now(UTC)),))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (token_hash, user, _iso(expires)))

    def session_user(self, token_hash: str, now: datetime) -> str | None:
        row = (
            self._connection()
            .execute("SELECT user, expires FROM sessions WHERE token_hash = ?", (token_hash,))
            .fetchone()
        )
        if row is None or _time(row[1]) <= now:
            return None
        return row[0]

    def end_session(self, token_hash: str) -> bool:
        with self._tx() as db:
            return (
                db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)).rowcount > 0
            )

    # -- preferences ------------------------------------------------------------------------
    def toggle_preference(self, user: str, kind: str, repo: str) -> bool:
        with self._tx() as db:
            removed = db.execute(
                "DELETE FROM preferences WHERE user = ? AND kind = ? AND repo = ?",
                (user, kind, repo),
            ).rowcount
            if removed:
                return False
            db.execute("INSERT INTO preferences VALUES (?, ?, ?)", (user, kind, repo))
            return True

    def preferences(self, user: str, kind: str) -> list[str]:
        rows = self._connection().execute(
            "SELECT repo FROM preferences WHERE user = ? AND kind = ? ORDER BY repo", (user, kind)
        )
        return [row[0] for row in rows]
