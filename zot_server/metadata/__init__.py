"""Users' metadata (API keys, sessions, stars, bookmarks) behind one interface.

:class:`MetaStore` is what the rest of the server calls; :class:`SQLiteMetaStore` keeps it in
an embedded database under the storage root. A networked database replaces it by
implementing the same interface and being returned from :func:`open_store`.
"""

from __future__ import annotations

import os

from .base import ApiKey, MetaStore
from .sqlite import SQLiteMetaStore

__all__ = ["ApiKey", "MetaStore", "SQLiteMetaStore", "open_store"]


def open_store(root: str) -> MetaStore:
    """The default store: ``<root>/.zot-server/meta.db`` (hidden from the catalog)."""
    directory = os.path.join(root, ".zot-server")
    os.makedirs(directory, exist_ok=True)
    return SQLiteMetaStore(os.path.join(directory, "meta.db"))
