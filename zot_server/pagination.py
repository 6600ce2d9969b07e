"""``n``/``last`` pagination with a ``Link`` header, shared by tags/list and _catalog."""

from __future__ import annotations

import bisect
from urllib.parse import urlencode

from .context import query_value
from .errors import RegistryError


def page(items: list[str], base_url: str) -> tuple[list[str], dict[str, str]]:
    """Entries after ``last`` (sorted order), at most ``n`` of them, and a Link if more remain."""
    raw_n = query_value("n")
    last = query_value("last")
    start = bisect.bisect_right(items, last) if last else 0
    if raw_n is None or raw_n == "":
        return items[start:], {}
    if not raw_n.isdigit():
        raise RegistryError(
            "PAGINATION_NUMBER_INVALID",
            "n must be a non-negative integer",
            detail={"n": raw_n[:50]},
        )
    n = int(raw_n)
    chunk = items[start : start + n]
    headers = {}
    if n and start + n < len(items):
        query = urlencode({"n": n, "last": chunk[-1]})
        headers["Link"] = f'<{base_url}?{query}>; rel="next"'
    return chunk, headers
