"""Parsing one value (``lr=0.1``) and one ``KEY=VALUE`` assignment."""

from __future__ import annotations

import re
from typing import Any

from gitxp.errors import UsageError

NUMBER_RE = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def parse_value(text: str) -> Any:
    """Type a command-line value: int, float, bool (true/false), none/null, or else the string itself. Only
    ASCII digits make a number (Python's int() and float() also read other scripts' digits)."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    if re.fullmatch(r"[+-]?[0-9]+", stripped):  # ASCII digits only: int("٣") is 3, but "٣" is text
        return int(stripped)
    if NUMBER_RE.match(stripped) or lowered in ("nan", "inf", "-inf", "+inf"):
        return float(stripped)
    return text


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """Split ``k=v`` (the key may be a dotted path); a clear usage error otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"{option} {text!r}: expected NAME=VALUE")
    return key.strip(), value


def parse_item(text: str) -> Any:
    """One item of a list (``--grid k=a,b``): typed as ``parse_value`` after trimming blanks; an item in
    matching quotes (``"adam"``, as in a JSON list) is that text, quotes and blanks removed, never a number."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        return stripped[1:-1]
    return parse_value(stripped)
