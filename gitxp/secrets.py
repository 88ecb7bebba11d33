"""What never travels with a run: secret-looking untracked files, and the values of secret-looking arguments.

- Untracked files named like ``.env``, ``.env.*``, ``*.pem``, ``*.key``, ``id_*`` (ssh keys), ``credentials*``,
  ``*.p12``/``*.pfx``, ``.netrc``, ``.pypirc`` are left out of the version's patch entirely (not even a hash is
  kept): the run's meta lists their paths (``version.secrets_skipped``) and gitxp warns once per process.
- Arguments named like ``--token``, ``--api-key``, ``--password``, ``--secret``, ``--credentials``, ``--auth`` (as
  ``--token X`` or ``--token=X``) have their value replaced by ``***`` in the recorded ``argv`` and command.
- Environment variables are never recorded, except a short list of harmless ones (see gitxp.builtin.meta).

More files can be kept out with ``.gitxpignore`` (gitignore syntax).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from pathlib import PurePosixPath

__all__ = ["SECRET_FILES", "MASK", "is_secret_file", "mask_argv", "mask_shell", "masked_names", "unmask"]

SECRET_FILES = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "id_*",
    "credentials*",
    "*.p12",
    "*.pfx",
    ".netrc",
    ".pypirc",
    "*.keystore",
    "*.jks",
)
MASK = "***"
_SECRET_ARG = re.compile(
    r"^--?([a-z0-9_.-]*(token|secret|passw(or)?d|api[-_]?key|apikey|credential|auth)[a-z0-9_.-]*)$", re.I
)


def is_secret_file(path: str) -> bool:
    """Whether an untracked file's name looks like it holds a secret."""
    name = PurePosixPath(path).name
    return any(fnmatch.fnmatchcase(name.lower(), pattern) for pattern in SECRET_FILES)


def mask_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with the values of secret-looking options replaced by ``***`` (``--token X``, ``--api-key=X``)."""
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            out.append(MASK)
            mask_next = False
            continue
        name, eq, _ = arg.partition("=")
        if _SECRET_ARG.match(name):
            if eq:
                out.append(f"{name}={MASK}")
            else:
                out.append(arg)
                mask_next = True
            continue
        out.append(arg)
    return out


def masked_names(argv: Sequence[str]) -> list[str]:
    """The options whose values :func:`mask_argv` hides."""
    return [a.partition("=")[0] for a in argv if _SECRET_ARG.match(a.partition("=")[0])]


def mask_shell(command: str) -> str:
    """A shell command line with secret option values masked (left as it is when it does not split)."""
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:
        return command
    return shlex.join(mask_argv(words)) if masked_names(words) else command


def unmask(argv: Sequence[str], run_id: str) -> list[str]:
    """A recorded command with its masked secrets filled back in from ``$GITXP_SECRET_<NAME>`` (``--api-key`` ->
    ``GITXP_SECRET_API_KEY``); a usage error naming the variable when one is not set."""
    import os

    from gitxp.errors import UsageError

    out = []
    previous = ""
    for arg in argv:
        name, eq, value = arg.partition("=")
        option = name if eq and value == MASK else previous if arg == MASK else None
        if option is not None:
            variable = "GITXP_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", option.lstrip("-")).upper()
            secret = os.environ.get(variable)
            if secret is None:
                raise UsageError(
                    f"run {run_id}'s command passed a secret to {option}, which gitxp does not record; "
                    f"set ${variable} to run it again"
                )
            arg = f"{name}={secret}" if eq else secret
        out.append(arg)
        previous = arg
    return out
