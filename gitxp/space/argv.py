"""Params from a command line: the ``--name value`` / ``--name=value`` flags typed in a wrapped command.

``gitxp run -- python train.py --lr 0.05`` records ``lr = 0.05`` (typed as ``-p`` values are), so a run started
by hand has the columns a sweep of the same script has (``gitxp.search.sweep.Sweep`` adds them to each run's params;
``gitxp run --no-argv-params`` turns it off).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["argv_params"]


_FLAG = re.compile(r"--([A-Za-z_][A-Za-z0-9_.-]*)")


def argv_params(argv: Sequence[str], *, shell: bool = False, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The ``--name value`` and ``--name=value`` flags of a wrapped command as params, typed as ``-p`` values are
    (``--lr 0.05`` -> ``lr = 0.05``, ``--batch-size 32`` -> ``batch_size = 32``, as argparse names them): a run
    started by hand records what a sweep of the same script records. Left out: the flags of the params in
    ``skip`` (the sweep's own, which fill these flags), values that are ``{templates}``, flags without a value
    (``--verbose``), flags named like secrets (``--api-key``, see gitxp.version.secrets), and everything after ``--``.
    A repeated flag counts once, with its last value (as argparse)."""
    from gitxp.space.values import parse_value
    from gitxp.version.secrets import is_secret_name

    words = list(argv)
    if shell:
        import shlex

        try:
            words = shlex.split(" ".join(argv))
        except ValueError:
            return {}
    taken = {k.replace("-", "_") for k in skip}
    out: dict[str, Any] = {}
    i = 1
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            break
        flag, eq, value = word.partition("=")
        match = _FLAG.fullmatch(flag)
        if match is None:
            continue
        if not eq:
            following = words[i] if i < len(words) else None
            if following is None or (
                following.startswith("-") and not isinstance(parse_value(following), float | int)
            ):
                continue  # a switch (--verbose), or the next flag
            value = following
            i += 1
        name = match.group(1).replace("-", "_")
        if name in taken or is_secret_name(name) or re.search(r"\{[A-Za-z_][\w.-]*\}", value):
            continue
        out.pop(name, None)
        out[name] = parse_value(value)
    return out
