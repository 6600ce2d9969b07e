"""The running registry: its settings and the storage back end they select."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .storage import LocalStorage, Storage

DEFAULT_ROOT = "data"
DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8080


@dataclass
class Settings:
    """Everything that shapes one server; filled from flags and (later) a zot config file."""

    root: str = DEFAULT_ROOT
    address: str = DEFAULT_ADDRESS
    port: int = DEFAULT_PORT
    workers: int = 2
    strict: bool = False
    contract_report: str | None = None  # violation report (strict); default <root>/.zot-server/
    swagger: str | None = None  # another swagger file (e.g. a newer upstream revision)
    fsync: bool = True
    # Storage upkeep, named after zot's keys (storage.dedupe, storage.gc, storage.gcDelay,
    # storage.gcInterval, storage.retention.delay, retention policy deleteUntagged); seconds.
    dedupe: bool = True
    gc: bool = True
    gc_delay: float = 3600.0  # unreferenced blobs and idle upload sessions younger than this stay
    gc_interval: float = 3600.0  # background GC period; 0 turns the background pass off
    gc_untagged: bool = False  # also remove untagged manifests nothing references
    retention_delay: float = 86400.0  # grace for untagged manifests and orphaned referrers
    body_timeout: float = 60.0  # longest wait for the next piece of a request body
    config: dict[str, Any] = field(default_factory=dict)  # the zot config file, as read
    config_path: str | None = None
    realm: str = "zot"  # named in the Basic challenge (http.realm)
    tls_cert: str | None = None  # http.tls: serve HTTPS with these files
    tls_key: str | None = None
    log_level: str = "warning"
    compat: list[str] = field(default_factory=list)


@dataclass
class Registry:
    settings: Settings
    storage: Storage
    security: Any = None  # zot_server.auth.Security, set by create_app

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        os.makedirs(settings.root, exist_ok=True)
        storage = LocalStorage(settings.root, fsync=settings.fsync, dedupe=settings.dedupe)
        return cls(settings, storage)
