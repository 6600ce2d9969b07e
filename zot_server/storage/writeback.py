"""Start writing a staged blob to disk while it still arrives, so the fsync that acknowledges
it (storage/local.py) waits for little more than the last few MiB.

Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)`` queues the dirty pages of a range for writing
and returns; it makes nothing durable by itself (the fsync still does). Where it is missing the
helper does nothing and the fsync at the end does all the work, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util

KICK = 8 << 20  # queue the disk write every 8 MiB of new data
_SYNC_FILE_RANGE_WRITE = 2


def _load():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_sync_file_range = _load()


class Writeback:
    """Tracks how far a file written sequentially has been queued for the disk."""

    def __init__(self, fd: int, offset: int) -> None:
        self.fd = fd
        self.queued = offset

    def wrote(self, end: int) -> None:
        """``end``: the file's size after a write that has left Python's buffer."""
        if _sync_file_range is None or end - self.queued < KICK:
            return
        _sync_file_range(self.fd, self.queued, end - self.queued, _SYNC_FILE_RANGE_WRITE)
        self.queued = end
