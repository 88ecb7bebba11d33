"""Run ids: ULIDs (48-bit millisecond time + 80 random bits) in lowercase Crockford base32.

Ids sort by creation time, are unique without coordination between machines, and are short enough to be typed
by prefix (``gitxp show 01jd3k``). Where gitxp prints an id for people it prints, like git, the shortest prefix of
at least ``MIN_SHOWN`` characters that no other run of the store shares (``unique_prefixes``), so every printed id
resolves. Ids made in the same millisecond by one process step the random part by a random amount below 2**70
(not by 1, as the ULID spec has it): they still sort in creation order, and differ within the first 13-14
characters instead of only in the last one.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

__all__ = ["MIN_SHOWN", "MIN_PREFIX", "new_run_id", "is_run_id", "unique_prefixes", "check_prefix"]

MIN_SHOWN = 8  # the fewest characters of an id gitxp prints (8 characters: the time to about a second)
# the shortest run-id prefix an operation on runs takes (the first 8 characters are time: a shorter prefix names
# every run of hours or more, as `gitxp cancel 0` did)
MIN_PREFIX = MIN_SHOWN

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_STEP = 1 << 70  # same-millisecond ids step their random part by less than this
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
            rand = _last[1] + 1 + int.from_bytes(os.urandom(9), "big") % _STEP
            if rand >> 80:  # the random part is used up for this millisecond: go on in the next one
                ms, rand = ms + 1, int.from_bytes(os.urandom(10), "big")
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last[0], _last[1] = ms, rand
    return _encode(ms, 10) + _encode(rand, 16)


def is_run_id(text: str) -> bool:
    """Whether ``text`` is a well-formed run id: 26 characters of the (lower-case) ULID alphabet."""
    return len(text) == 26 and all(ch in _ALPHABET for ch in text)


def unique_prefixes(ids: Sequence[str], universe: Sequence[str], minimum: int = MIN_SHOWN) -> list[str]:
    """The shortest prefix of each of ``ids``, at least ``minimum`` characters, that no other id of ``universe``
    (every id of the store, sorted) starts with: what to print so that ``gitxp show PREFIX`` finds that one run.

    A binary search per id and a look at its two neighbours: O(len(ids) * log(len(universe))) comparisons, so a
    table of 100 runs costs the same in a store of 100,000. ``universe`` may be any sorted sequence (a list, or
    a sorted Arrow array read with ``as_py``)."""
    size = len(universe)
    out = []
    for run_id in ids:
        low, high = 0, size
        while low < high:  # bisect_left, through __getitem__ only
            mid = (low + high) // 2
            if _item(universe, mid) < run_id:
                low = mid + 1
            else:
                high = mid
        need = minimum
        for j in (low - 1, low, low + 1):
            if 0 <= j < size:
                other = _item(universe, j)
                if other != run_id:
                    need = max(need, _common(run_id, other) + 1)
        out.append(run_id[:need])
    return out


def _item(universe: Sequence[str], index: int) -> str:
    value = universe[index]
    return value if isinstance(value, str) else str(value.as_py())


def _common(a: str, b: str) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


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
