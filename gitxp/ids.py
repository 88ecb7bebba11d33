"""Run ids: ULIDs (48-bit millisecond time + 80 random bits) in lowercase Crockford base32.

Ids sort by creation time, are unique without coordination between machines, and are short enough to be typed
by prefix (``gitxp show 01jd3k``).
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["new_run_id", "is_run_id", "MIN_PREFIX", "check_prefix"]

# the shortest run-id prefix an operation on runs takes (the first 8 characters are time: a shorter prefix names
# every run of hours or more, as `gitxp cancel 0` did)
MIN_PREFIX = 8

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_lock = threading.Lock()
_last: list[int] = [0, 0]  # last millisecond, last random part: keeps ids monotonic within a process


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_run_id() -> str:
    """Return a new 26-character, time-sortable run id."""
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last[0]:
            ms = _last[0]
            rand = (_last[1] + 1) & ((1 << 80) - 1)
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last[0], _last[1] = ms, rand
    return _encode(ms, 10) + _encode(rand, 16)


def is_run_id(text: str) -> bool:
    """Whether ``text`` is a well-formed run id: 26 characters of the (lower-case) ULID alphabet."""
    return len(text) == 26 and all(ch in _ALPHABET for ch in text)


def check_prefix(prefix: str) -> None:
    """Refuse a run-id prefix shorter than :data:`MIN_PREFIX` characters (a usage error). Text that cannot begin
    an id (a typo, a name) is left to the caller's "no such run" with its "did you mean"."""
    text = prefix.strip().lower()
    if text and len(text) < MIN_PREFIX and all(ch in _ALPHABET for ch in text):
        from gitxp.errors import UsageError

        raise UsageError(
            f"run id prefix {prefix!r} is too short: give at least {MIN_PREFIX} characters of the id (as 'gitxp ls' "
            "shows it), or name the runs with -e EXP / --where"
        )
