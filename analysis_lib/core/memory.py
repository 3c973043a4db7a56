"""The process's memory: handing freed heap memory back to the system."""

from __future__ import annotations

__all__ = ["release_memory"]


def release_memory() -> bool:
    """Return the freed memory of this process's heap to the system (glibc's ``malloc_trim``; False
    where the C library has none). A process whose malloc keeps freed blocks (a large
    ``MALLOC_TRIM_THRESHOLD_``, as the runner's workers) calls it after a large task."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False
