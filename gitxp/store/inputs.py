"""Declared input data: the files and directories a run read, recorded by path, size and content hash.

``gitxp run --input PATH``, ``run.input(PATH)`` and ``@gitxp.experiment(inputs=[...])`` record each input as one
line of the run's ``meta.inputs`` list: ``"<hash> <size> <path>"``, where the hash is ``sha256:<hex>`` (a
directory: the sha256 of its sorted manifest of ``<sha256> <size> <relative path>`` lines) or, for a file tracked
by DVC (a ``<path>.dvc`` beside it), the hash DVC recorded (``md5:<hex>``, ``md5:<hex>.dir``), read instead of
hashing the data again. The path is relative to the repository's root when inside it.

Large files are hashed once: hashes are cached by (path, size, mtime, inode) in ``.git/gitxp/inputs.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitxp.errors import UsageError

__all__ = ["describe", "describe_for", "line", "parse_lines", "merge", "check", "diff"]

_CACHE_NAME = "inputs.json"


class _Cache:
    """sha256 of files by path, valid while the file's (size, mtime, inode) is unchanged, kept in one JSON file of
    the store's directory: one entry per path (a file rewritten replaces its entry), the ``MAX_PATHS`` used last."""

    MAX_PATHS = 10_000

    def __init__(self, root: Path | None) -> None:
        self.path = root / _CACHE_NAME if root is not None else None
        self.data: dict[str, list[Any]] = {}  # path -> [size, mtime_ns, inode, sha256]
        self.changed = False
        if self.path is not None:
            try:
                data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                data = {}
            # entries of another shape (an older gitxp's) are dropped: hashed again
            if isinstance(data, dict):
                self.data = {k: v for k, v in data.items() if isinstance(v, list) and len(v) == 4}

    def sha256(self, path: Path) -> tuple[str, int]:
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        key = str(path)
        found = self.data.pop(key, None)
        if found is not None and found[:3] == stamp:
            digest = str(found[3])
        else:
            h = hashlib.sha256()
            with open(path, "rb") as file:
                for chunk in iter(lambda: file.read(1 << 20), b""):
                    h.update(chunk)
            digest = h.hexdigest()
        if found is None or found[:3] != stamp or len(self.data) >= self.MAX_PATHS:
            self.changed = True
        self.data[key] = [*stamp, digest]  # the newest use last: the oldest go first
        while len(self.data) > self.MAX_PATHS:
            del self.data[next(iter(self.data))]
        return digest, st.st_size

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{_CACHE_NAME}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.data))
            os.replace(tmp, self.path)
        except OSError:
            pass


def _dvc_hash(path: Path) -> tuple[str, int] | None:
    """The hash DVC recorded for ``path`` in ``path.dvc`` (md5; a directory's ends in ``.dir``), if any."""
    dvc = path if path.suffix == ".dvc" else path.with_name(path.name + ".dvc")
    if not dvc.is_file():
        return None
    try:
        import yaml

        data = yaml.safe_load(dvc.read_text())
    except Exception:
        return None
    for out in (data or {}).get("outs") or []:
        if isinstance(out, Mapping) and out.get("md5"):
            return f"md5:{out['md5']}", int(out.get("size") or 0)
    return None


def describe(
    path: str | os.PathLike[str], *, repo_root: Path | None, store_root: Path | None
) -> dict[str, Any]:
    """Path (relative to ``repo_root`` when inside it), size and hash of an input file or directory."""
    given = Path(path)
    source = given.resolve()
    dvc = _dvc_hash(source)
    if dvc is None and not source.exists():
        raise UsageError(f"input {str(path)!r}: no such file or directory")
    if source.suffix == ".dvc":
        source = source.with_suffix("")
    name = source.as_posix()
    if repo_root is not None:
        try:
            name = source.relative_to(repo_root.resolve()).as_posix()
        except ValueError:
            pass
    if dvc is not None:
        return {"path": name, "size": dvc[1], "hash": dvc[0]}
    cache = _Cache(store_root)
    try:
        if source.is_dir():
            lines, total = [], 0
            for folder, dirs, files in os.walk(source):
                dirs[:] = sorted(d for d in dirs if d not in (".git", ".dvc"))
                for file in sorted(files):
                    full = Path(folder) / file
                    if not full.is_file():
                        continue
                    digest, size = cache.sha256(full)
                    total += size
                    lines.append(f"{digest} {size} {full.relative_to(source).as_posix()}\n")
            manifest = "".join(sorted(lines, key=lambda text: text.split(" ", 2)[2]))
            digest = hashlib.sha256(manifest.encode()).hexdigest()
            return {"path": name, "size": total, "hash": f"sha256:{digest}"}
        digest, size = cache.sha256(source)
        return {"path": name, "size": size, "hash": f"sha256:{digest}"}
    finally:
        cache.save()


def describe_for(store: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """:func:`describe` for a run of ``store`` (None: a run attached to ``gitxp run``, whose store directory is
    the one of ``$GITXP_ATTACH_DIR``, ``<store root>/staging/<run id>``)."""
    if store is not None:
        return describe(path, repo_root=store.repo.worktree, store_root=Path(store.root))
    from gitxp.errors import GitxpError
    from gitxp.git.repo import Repo

    attach = os.environ.get("GITXP_ATTACH_DIR")
    try:
        repo_root = Repo.discover().worktree
    except GitxpError:
        repo_root = None
    return describe(path, repo_root=repo_root, store_root=Path(attach).parent.parent if attach else None)


def line(item: Mapping[str, Any]) -> str:
    """An input as recorded in ``meta.inputs``."""
    return f"{item['hash']} {item['size']} {item['path']}"


def parse_lines(lines: Iterable[str] | None) -> list[dict[str, Any]]:
    """``meta.inputs`` back into ``{"path", "size", "hash"}`` items."""
    out = []
    for text in lines or []:
        parts = str(text).split(" ", 2)
        if len(parts) == 3:
            size = int(parts[1]) if parts[1].isdigit() else None
            out.append({"hash": parts[0], "size": size, "path": parts[2]})
    return out


def merge(lines: Iterable[str] | None, item: Mapping[str, Any]) -> list[str]:
    """``meta.inputs`` with ``item`` added (replacing an earlier record of the same path)."""
    kept = [line(old) for old in parse_lines(lines) if old["path"] != item["path"]]
    return sorted([*kept, line(item)], key=lambda text: text.split(" ", 2)[-1])


def check(
    lines: Iterable[str] | None, repo_root: Path | None, store_root: Path | None
) -> list[dict[str, Any]]:
    """The recorded inputs whose current content differs (or that are gone): ``{"path", "recorded", "now"}``."""
    changed = []
    for item in parse_lines(lines):
        where = Path(item["path"])
        if not where.is_absolute() and repo_root is not None:
            where = repo_root / where
        try:
            now = describe(where, repo_root=repo_root, store_root=store_root)["hash"]
        except UsageError:
            now = None
        if now != item["hash"]:
            changed.append({"path": item["path"], "recorded": item["hash"], "now": now})
    return changed


def diff(a: Iterable[str] | None, b: Iterable[str] | None) -> list[dict[str, Any]]:
    """Inputs that differ between two runs (or sides): ``{"path", "a", "b"}`` with each side's hash (None: not
    declared on that side)."""
    ha = {i["path"]: i["hash"] for i in parse_lines(a)}
    hb = {i["path"]: i["hash"] for i in parse_lines(b)}
    paths = sorted(set(ha) | set(hb))
    return [{"path": p, "a": ha.get(p), "b": hb.get(p)} for p in paths if ha.get(p) != hb.get(p)]


def of_side(values: list[Any]) -> dict[str, set[str]]:
    """The declared inputs of a side's runs (their ``meta.inputs`` values): path -> the hashes recorded."""
    out: dict[str, set[str]] = {}
    for lines in values:
        for item in parse_lines(lines):
            out.setdefault(item["path"], set()).add(item["hash"])
    return out


def side_diff(a: dict[str, set[str]], b: dict[str, set[str]]) -> list[dict[str, Any]]:
    """Inputs whose content differs between two sides (``of_side``): ``{"path", "a", "b"}``, each a sorted list
    of the hashes recorded on that side (empty: not declared there)."""
    return [
        {"path": p, "a": sorted(a.get(p, ())), "b": sorted(b.get(p, ()))}
        for p in sorted(set(a) | set(b))
        if a.get(p, set()) != b.get(p, set())
    ]
