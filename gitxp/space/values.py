"""Parsing one value (``lr=0.1``) and one ``KEY=VALUE`` assignment."""

from __future__ import annotations

import re
from typing import Any

from gitxp.errors import UsageError

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_value(text: str) -> Any:
    """Type a command-line value: int, float, bool (true/false), none/null, or else the string itself."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    if re.fullmatch(r"[+-]?\d+", stripped):
        return int(stripped)
    if _NUMBER.match(stripped) or lowered in ("nan", "inf", "-inf", "+inf"):
        return float(stripped)
    return text


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """Split ``k=v`` (the key may be a dotted path); a clear usage error otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"{option} {text!r}: expected NAME=VALUE")
    return key.strip(), value
