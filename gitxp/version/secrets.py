"""What never travels with a run: secret-looking files, and the values of secret-looking arguments, params and meta.

Files (:func:`is_secret_file`): untracked files named like :data:`SECRET_FILES` (``.env``, ``*.pem``, ssh keys,
``.git-credentials``, ``.npmrc``, ``.docker/config.json``, ``service-account*.json``, ``kubeconfig``,
``secrets.yaml``, ``token.txt``, ``terraform.tfvars``, ``*.ppk``, ``.htpasswd``…) are left out of the version's
patch entirely (not even a hash is kept), and so are uncommitted edits of *tracked* files with such names (the
committed content is already public; the edit is not). The run's meta lists their paths
(``version.secrets_skipped``) and gitxp warns once per process. More patterns: ``git config --add
gitxp.secretFiles 'PATTERN'`` (fnmatch on the file name, or on the path's tail when it holds a ``/``); files that
must not even be listed go in ``.gitxpignore`` (gitignore syntax).

Values (:func:`mask_record`, the one function every record passes through before it reaches the disk):

- options named like a secret (:func:`is_secret_name`: ``--token``, ``--api-key``, ``--password``, ``--pass``,
  ``--key``, ``--private-key``, ``--access-key``, ``--secret``, ``--credentials``, ``--auth``…, as ``--opt X`` or
  ``--opt=X``) and ``-p X`` (a password, as ``mysql -p``/``sshpass -p`` take it; kept when ``X`` is ``name=value``
  or a number) have their value replaced by ``***`` in ``meta.argv``, ``meta.command``, ``meta.command.template``;
- ``NAME=VALUE`` words with a secret-looking name (``-p token=…``, ``--grid api_key=…``, ``db.password=…``,
  ``API_KEY=… python train.py``), the password of a URL (``https://user:***@host``) and the value of an
  ``Authorization:`` (or other secret-named) header, anywhere in any recorded text;
- params with a secret-looking name are recorded as ``***`` (the command still receives the real value);
- the values so hidden are masked in the command's recorded output as well (:func:`secret_values`,
  :func:`gitxp.wrap.tee.redactor`: a script that prints its arguments or ``$GITXP_PARAMS``).

``gitxp rerun`` fills masked values back in from ``$GITXP_SECRET_<NAME>`` (``--api-key`` -> ``GITXP_SECRET_API_KEY``,
a URL's password -> ``GITXP_SECRET_URL_PASSWORD``) and says which variable to set. Environment variables are never
recorded, except a short list of harmless ones (see gitxp.run.meta).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

# fmt: off
__all__ = [
    "SECRET_FILES", "MASK", "is_secret_file", "is_secret_name", "secret_file_patterns", "mask_argv", "mask_shell",
    "mask_text", "mask_params", "mask_record", "unmask", "unmask_params", "secret_values"
]
# fmt: on

_NAMED = "secret secrets token .token *_token *-token *_secret *-secret *_secrets *-secrets api_key api-key apikey"
_DATA = ("", ".txt", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".env")  # not .py: code stays
SECRET_FILES = tuple(
    """
    .env .env.* *.env .envrc *.pem *.key *.ppk *.p12 *.pfx *.keystore *.jks *.gpg id_* credentials*
    *credentials*.json client_secret*.json service-account*.json service_account*.json *-sa-key*.json kubeconfig
    *.kubeconfig .kube/config .docker/config.json .git-credentials .netrc _netrc .pypirc .npmrc .yarnrc .pgpass
    .my.cnf .s3cfg .boto .vault-token .htpasswd htpasswd *.secret *.secrets *.tfvars *.tfvars.json *.tfstate
    *.tfstate.backup
    """.split()
) + tuple(name + ext for name in _NAMED.split() for ext in _DATA)
MASK = "***"

# words that make a name secret (split on - _ . and case changes); "key" only as the name's last word
_SECRET_WORDS = frozenset(
    "token secret secrets password passwd pass pwd passphrase credential credentials "
    "apikey auth authorization cookie privatekey accesskey secretkey".split()
)
_HARMLESS_LAST = frozenset(  # --token-file, --max-tokens-len, --secret-name: about a secret, not one
    "file path dir folder env var name id len length size limit limits count num type budget url".split()
)
_HARMLESS_WORDS = frozenset("max min num".split())  # --max-tokens: a count, not a token
_NOT_A_KEY = frozenset(  # sort_key, rng_key (JAX), cache_key: names of a key that is not a secret
    "sort primary foreign hash dict group join partition cache lookup index map random rng prng seed column row "
    "metric music shard dataset data split".split()
)


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether an option, param, header or variable name looks like it holds a secret (``--api-key``,
    ``db.password``, ``HF_TOKEN``, ``Authorization``; not ``--max-tokens``, ``--token-file``, ``--keyboard``)."""
    words = [w for w in re.split(r"[-_.\s/]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip("-"))) if w]
    words = [w.lower() for w in words]
    if not words or words[-1] in _HARMLESS_LAST or _HARMLESS_WORDS.intersection(words):
        return False
    is_key = words[-1] == "key" and (len(words) == 1 or words[-2] not in _NOT_A_KEY)
    return is_key or bool(_SECRET_WORDS.intersection(words)) or "".join(words[-2:]) == "apikey"


def secret_file_patterns(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The default patterns plus ``extra`` (e.g. from ``git config gitxp.secretFiles``)."""
    return SECRET_FILES + tuple(p.strip().lower() for p in extra if p.strip())


def is_secret_file(path: str, patterns: Sequence[str] = SECRET_FILES) -> bool:
    """Whether a file's name (or, for a pattern with a ``/``, its path's tail) looks like it holds a secret."""
    lowered = path.lower()
    name = PurePosixPath(lowered).name
    for pattern in patterns:
        if "/" in pattern:
            if fnmatch.fnmatchcase(lowered, pattern) or fnmatch.fnmatchcase(lowered, "*/" + pattern):
                return True
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False


# ---------------------------------------------------------------------- text

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@'\"]*:)(?P<secret>[^@/\s'\"]+)(?=@)")
_HEADER = re.compile(r"(?P<head>\b(?P<name>[A-Za-z][\w\-]*)\s*:\s*)(?P<secret>\S.*)")
_HEADER_ANY = re.compile(r"(?P<head>\b(?P<name>[A-Za-z][\w\-]*):[ \t]*)(?P<secret>[^'\"\n]*[^'\"\s])")
_ASSIGN = re.compile(r"^(?P<head>(?P<name>[A-Za-z_][\w.\-]*)=)(?P<secret>.+)$", re.S)
_PLAIN = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^\{[\w.\-]+\}$")


def _header_or_none(text: str) -> str | None:
    match = _HEADER.match(text.strip())
    if match and is_secret_name(match["name"]) and match["secret"] != MASK:
        return text[: text.index(match["head"]) + len(match["head"])] + MASK
    return None


def _mask_word(word: str) -> str:
    """One word (an argv element, a shell word): ``NAME=secret``, a URL's password, an ``Authorization:``
    header."""
    match = _ASSIGN.match(word)
    if match and is_secret_name(match["name"]) and match["secret"] != MASK:
        return match["head"] + MASK
    header = _header_or_none(word)
    if header is not None:
        return header
    return _URL_PASSWORD.sub(lambda m: m["head"] + MASK, word)


@functools.lru_cache(maxsize=4096)
def mask_text(text: str) -> str:
    """Free text (a shell command line, a meta value) with every secret it shows masked (see module doc)."""
    if not text or not any(c in text for c in "=:-"):
        return text
    if any(c.isspace() for c in text.strip()):
        masked = mask_shell(text)
        if masked == text:
            header = _header_or_none(text)
            masked = header if header is not None else _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
        # a header inside free text ("... Authorization: Bearer X ..."): masked to the end of its line or quote
        return _HEADER_ANY.sub(
            lambda m: m["head"] + MASK if m["secret"] != MASK and is_secret_name(m["name"]) else m[0], masked
        )
    return _mask_word(text)


def _is_secret_option(arg: str) -> bool:
    return arg.startswith("-") and len(arg) > 1 and (arg == "-p" or (arg.startswith("--") and is_secret_name(arg)))


def mask_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with secret values replaced by ``***``: the values of secret-looking options (``--token X``,
    ``--api-key=X``, ``-p X``), ``NAME=X`` words with a secret name, URL passwords, ``Authorization:`` headers;
    an element holding a whole shell command line is masked word by word."""
    return list(_mask_argv(tuple(argv)))


@functools.lru_cache(maxsize=1024)
def _mask_argv(argv: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    pending = ""  # a secret option waiting for its value
    for arg in argv:
        if pending:
            option, pending = pending, ""
            if arg.startswith("--") or arg == "--":
                pass  # the option had no value: this is the next option
            elif option == "-p" and (_PLAIN.match(arg) or (_ASSIGN.match(arg) and not arg.startswith("-"))):
                out.append(_mask_word(arg))  # gitxp's own -p name=value, or a number: not a password
                continue
            else:
                out.append(MASK)
                continue
        name, eq, _ = arg.partition("=")
        if _is_secret_option(name):
            if not eq:
                pending = name
                out.append(arg)
            else:
                out.append(f"{name}={MASK}" if name != "-p" else arg)
            continue
        if arg.startswith("-") and eq:  # --header=Authorization: Bearer X, --url=https://user:pass@host
            value = arg[len(name) + 1 :]
            masked = mask_text(value)
            out.append(arg if masked == value else f"{name}={masked}")
        else:
            out.append(arg if arg.startswith("-") and "://" not in arg else mask_text(arg))
    return tuple(out)


def _hidden(original: str, masked: str) -> str:
    """The part of ``original`` that ``masked`` shows as ``***``."""
    head = masked.index(MASK)
    tail = len(masked) - head - len(MASK)
    return original[head : len(original) - tail]


def _words(command: str) -> list[tuple[str, int, int]]:
    """The shell words of ``command`` (as ``shlex.split``) with the span of text each was read from."""
    import io
    import shlex

    stream = io.StringIO(command)
    lexer = shlex.shlex(stream, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    out: list[tuple[str, int, int]] = []
    at = 0
    while True:
        word = lexer.get_token()
        if word is None:
            return out
        end = stream.tell()
        out.append((word, at, end))
        at = end


_SAFE = re.compile(r"^[\w@%+=:,./\-]*$")


def mask_shell(command: str) -> str:
    """A shell command line with secret values masked, its quoting and syntax otherwise as written."""
    import shlex

    try:
        spans = _words(command)
    except ValueError:
        return _URL_PASSWORD.sub(lambda m: m["head"] + MASK, command)
    words = [w for w, _s, _e in spans]
    masked = mask_argv(words)
    if masked == words:
        return command
    out, at = [], 0
    for (word, start, end), new in zip(spans, masked):
        if word == new:
            continue
        secret = _hidden(word, new)
        prefix = word[: new.index(MASK)]
        where = command.find(prefix + secret, start, end) if secret else -1
        if where >= 0:
            where += len(prefix)
        elif secret and command.count(secret, start, end) == 1:
            where = command.find(secret, start, end)  # the prefix is quoted, the secret is not
        if where < 0:
            return shlex.join(masked)  # spelled with quotes or escapes in the text: re-quoted
        out.append(command[at:where] + MASK)
        at = where + len(secret)
    return "".join(out) + command[at:]


def _unmask_shell(command: str, run_id: str) -> str:
    import shlex

    spans = _words(command)
    words = [w for w, _s, _e in spans]
    plain = unmask(words, run_id)
    out, at = [], 0
    for (word, start, end), new in zip(spans, plain):
        if word == new:
            continue
        secret = _hidden(new, word)
        where = command.find(MASK, start, end)
        if where < 0 or not _SAFE.match(secret):
            return shlex.join(plain)
        out.append(command[at:where] + secret)
        at = where + len(MASK)
    return "".join(out) + command[at:]


def mask_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params with secret-looking names recorded as ``***``; URL passwords masked in string values."""
    out = {}
    for key, value in params.items():
        if value is not None and is_secret_name(key.rsplit(".", 1)[-1] if "." in key else key):
            value = MASK
        elif isinstance(value, str) and "://" in value:
            value = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, value)
        out[key] = value
    return out


_ARGV_META = ("argv", "command", "command.template")


def _mask_meta_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return MASK if is_secret_name(key.rsplit(".", 1)[-1]) and key not in _ARGV_META else mask_text(value)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return mask_argv(value)
    return value


def mask_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A run's record (``params``, ``meta``) as it may be written: every secret masked (see module doc). The
    one place every record passes through on its way to disk (gitxp.store.staging); idempotent."""
    out = dict(record)
    params = record.get("params")
    if params:
        out["params"] = mask_params(params)
    meta = record.get("meta")
    if meta:
        out["meta"] = {
            k: _mask_meta_value(k, v) if k != "version.secrets_skipped" else v for k, v in meta.items()
        }
    return out


# ---------------------------------------------------------------------- filling secrets back in


def _variable(name: str) -> str:
    return "GITXP_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name.lstrip("-")).upper()


def _secret(variable: str, what: str, run_id: str) -> str:
    import os

    from gitxp.errors import UsageError

    secret = os.environ.get(variable)
    if secret is None:
        raise UsageError(
            f"run {run_id}'s command passed a secret to {what}, which gitxp does not record; "
            f"set ${variable} to run it again"
        )
    return secret


def _unmask_word(word: str, run_id: str) -> str:
    match = _ASSIGN.match(word)
    if match and match["secret"] == MASK:
        return match["head"] + _secret(_variable(match["name"]), match["name"], run_id)
    header = _HEADER.match(word.strip())
    if header and header["secret"] == MASK:
        return word.replace(MASK, _secret(_variable(header["name"]), header["name"], run_id))
    return _URL_PASSWORD.sub(
        lambda m: m["head"] + _secret("GITXP_SECRET_URL_PASSWORD", "a URL", run_id)
        if m["secret"] == MASK
        else m[0],
        word,
    )


def _unmask_text(text: str, run_id: str) -> str:
    if any(c.isspace() for c in text.strip()) and not _HEADER.match(text.strip()):
        try:  # a whole shell command line in one element
            return _unmask_shell(text, run_id)
        except ValueError:
            return text
    return _unmask_word(text, run_id)


def unmask(argv: Sequence[str], run_id: str) -> list[str]:
    """A recorded command with its masked secrets filled back in from ``$GITXP_SECRET_<NAME>`` (``--api-key`` ->
    ``GITXP_SECRET_API_KEY``); a usage error naming the variable when one is not set."""
    out = []
    previous = ""
    for arg in argv:
        name, eq, value = arg.partition("=")
        option = name if eq and value == MASK and name.startswith("-") else previous if arg == MASK else None
        if option is not None:
            secret = _secret(_variable(option), option, run_id)
            arg = f"{name}={secret}" if eq else secret
        elif MASK in arg:
            if arg.startswith("-") and eq:  # --header=Authorization: ***
                arg = f"{name}={_unmask_text(value, run_id)}"
            else:
                arg = _unmask_text(arg, run_id)
        out.append(arg)
        previous = arg
    return out


def unmask_params(params: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """Params recorded as ``***`` filled back in from ``$GITXP_SECRET_<NAME>`` (``api_key`` ->
    ``GITXP_SECRET_API_KEY``); a usage error naming the variable when one is not set."""
    out = dict(params)
    for key, value in params.items():
        if value == MASK and is_secret_name(key.rsplit(".", 1)[-1]):
            out[key] = _secret(_variable(key), f"param {key!r}", run_id)
    return out


# ---------------------------------------------------------------------- what the command prints


def secret_values(argv: Sequence[str], params: Mapping[str, Any], *, shell: bool = False) -> list[str]:
    """The secret values a command is given (what :func:`mask_argv` hides in ``argv``, the string values of
    secret-named params), longest first; numbers and values shorter than 4 characters are left out."""
    words = list(argv)
    if shell:
        try:
            words = [w for arg in argv for w, _s, _e in _words(arg)]
        except ValueError:
            pass
    found = {_hidden(word, masked) for word, masked in zip(words, mask_argv(words)) if word != masked}
    found |= {v for k, v in params.items() if isinstance(v, str) and mask_params({k: v})[k] == MASK}
    return sorted((v for v in found if len(v) >= 4 and v != MASK and not _PLAIN.match(v)), key=len, reverse=True)
