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
        return cls(settings, LocalStorage(settings.root, fsync=settings.fsync))
