"""Package environments, content-addressed: what a run's interpreter had installed, stored once per environment.

A run records only the hash of its environment (``meta.environment``); the environment itself (installed
distributions name -> version from ``importlib.metadata``, python, implementation, platform, executable, and CUDA
and driver versions when torch is already imported or ``nvidia-smi`` is on the PATH) is one JSON file,
``envs/<hash>.json`` on the store's ref, written with the first run committed that uses it: 10,000 runs in one
virtualenv cost one file.

Cost: walking the installed distributions takes ~0.1 s, so it happens at most once per process and usually never:
the hash is cached in ``.git/gitxp/envs/`` under a key made of the interpreter and the modification times of the
directories on ``sys.path`` (installing, upgrading or removing a package changes its site-packages directory).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ENVS",
    "capture",
    "current_hash",
    "diff",
    "format_change",
    "load",
    "ref_files",
    "local_file",
    "platform_name",
]

ENVS = "envs"  # the folder on the ref, and in the store's directory inside .git/gitxp
_proc: dict[str, Any] = {}  # this process's environment: "key", "digest", "data" (its JSON file's bytes)
_roots: set[str] = set()  # store directories whose envs/ folder has this process's environment
_lock = threading.RLock()
_background: threading.Thread | None = None
_on_ref: set[tuple[str, str]] = set()  # (store root, hash) committed by this process already


def platform_name() -> str:
    """``platform.platform()``, without the ``uname -p`` process it starts on Linux (a few ms of every
    ``gitxp run``): there the processor it asks for is left out whenever it is "unknown" or repeats the machine,
    which is what ``uname -p`` answers on Linux. Anything unusual goes to ``platform.platform()`` itself."""
    if sys.platform != "linux":
        return platform.platform()
    system, _node, release, _version, machine = os.uname()
    libc, libc_version = platform.libc_ver()
    text = "-".join(part.strip() for part in (system, release, machine, "with", libc + libc_version) if part)
    if system != "Linux" or any(c in text for c in ' /\\:;"()') or "unknown" in text or "--" in text:
        return platform.platform()
    return text


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _driver() -> dict[str, str]:
    """CUDA and driver versions, from torch when the process already imported it (never imported here)."""
    out: dict[str, str] = {}
    torch = sys.modules.get("torch")
    if torch is not None:
        cuda = getattr(getattr(torch, "version", None), "cuda", None)
        if cuda:
            out["cuda"] = str(cuda)
        cudnn = getattr(getattr(getattr(torch, "backends", None), "cudnn", None), "version", None)
        try:
            value = cudnn() if callable(cudnn) else None
            if value:
                out["cudnn"] = str(value)
        except Exception:  # no cuDNN library: nothing to record
            pass
    smi = shutil.which("nvidia-smi")
    if smi:
        import subprocess

        try:
            proc = subprocess.run(
                [smi, "--query-gpu=driver_version,name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
            if proc.returncode == 0 and lines:
                out["driver"] = lines[0].split(",")[0].strip()
                out["gpus"] = ", ".join(line.split(",", 1)[-1].strip() for line in lines)
        except (OSError, subprocess.SubprocessError):
            pass
    return out


def capture() -> dict[str, Any]:
    """The environment of the running interpreter (walks the installed distributions: ~0.1 s)."""
    import importlib.metadata

    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        try:
            name = dist.metadata["Name"]
        except Exception:  # a broken dist-info directory
            continue
        if name:
            packages.setdefault(_canonical(str(name)), str(dist.version))  # the first on sys.path is imported
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform_name(),
        "executable": sys.executable,
        **_driver(),
        "packages": dict(sorted(packages.items())),
    }


def encode(env: Mapping[str, Any]) -> bytes:
    return json.dumps(env, sort_keys=True, indent=1).encode() + b"\n"


def hash_of(env: Mapping[str, Any]) -> str:
    """The content hash an environment is stored under (16 hex digits of sha256)."""
    return hashlib.sha256(encode(env)).hexdigest()[:16]


def _key() -> str:
    """What identifies the environment without walking it: the interpreter, the directories it imports from
    (with their modification times), torch's CUDA build when imported, the nvidia-smi binary."""
    parts: list[Any] = [sys.executable, sys.prefix, sys.version]
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    # not the current directory nor the script's: the project, which changes all the time (and differs between
    # gitxp run and the command it wraps, which then share the cache)
    local = {"", os.getcwd(), os.path.dirname(os.path.abspath(main)) if main else ""}
    for entry in sys.path:
        if entry in local:
            continue
        try:
            parts.append((entry, os.stat(entry).st_mtime_ns))
        except OSError:
            parts.append((entry, None))
    torch = sys.modules.get("torch")
    parts.append(getattr(getattr(torch, "version", None), "cuda", None) if torch is not None else None)
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            parts.append((smi, os.stat(smi).st_mtime_ns))
        except OSError:
            pass
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:20]


def cached_hash(root: Path | None) -> str | None:
    """The hash of this interpreter's environment when it is known without walking the installed
    distributions (computed earlier in this process, or cached under :func:`_key` in ``root``); else None."""
    if str(root) in _roots:
        return _proc.get("digest")
    with _lock:
        known = "data" in _proc or cached_hash_unlocked(root) is not None
    return current_hash(root) if known else None


def current_hash(root: Path | None) -> str | None:
    """The hash of this interpreter's environment, its file written under ``root/envs/`` (the store's directory)
    for the committer. Computed once per process (and across processes cached under :func:`_key`); each store
    directory is looked at once per process."""
    if str(root) in _roots:
        return _proc.get("digest")
    try:
        with _lock:
            if "data" not in _proc and cached_hash_unlocked(root) is None:
                env = capture()
                _proc.update(digest=hash_of(env), data=encode(env))
        digest = _proc["digest"]
        folder = root / ENVS if root is not None else None
        if folder is not None:
            target = folder / f"{digest}.json"
            if not target.is_file():
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{digest}.{os.getpid()}.tmp"
                tmp.write_bytes(_proc["data"])
                os.replace(tmp, target)
            cache = folder / f"key-{_proc.setdefault('key', _key())}"
            if not cache.is_file():
                tmp = folder / f".key.{os.getpid()}.tmp"
                tmp.write_text(digest)
                os.replace(tmp, cache)
        _roots.add(str(root))
        return str(digest)
    except Exception:  # never fail a run for its environment record
        return None


def cached_hash_unlocked(root: Path | None) -> str | None:
    """:func:`cached_hash`'s disk look-up, for a caller holding ``_lock``: fills ``_proc`` on a hit."""
    if root is None:
        return None
    key = _proc.setdefault("key", _key())
    try:
        digest = (root / ENVS / f"key-{key}").read_text().strip()
        _proc.update(digest=digest, data=local_file(root, digest).read_bytes())
        return digest
    except OSError:
        return None


def hash_later(root: Path | None) -> None:
    """Start computing the environment's hash in a background thread (once per process), so that a run need
    not wait ~0.1 s for it at its start; :func:`wait_hash` takes the result (at the run's end)."""
    global _background
    with _lock:
        if _background is None or (not _background.is_alive() and "data" not in _proc):
            _background = threading.Thread(
                target=current_hash, args=(root,), name="gitxp-environment", daemon=True
            )
            _background.start()


def pending() -> bool:
    """Whether a background hashing was started in this process (:func:`hash_later`)."""
    return _background is not None


def wait_hash(root: Path | None, timeout: float = 120.0) -> str | None:
    """The environment's hash, once :func:`hash_later`'s thread is done (computed here if none ran)."""
    thread = _background
    if thread is not None:
        thread.join(timeout)
    return current_hash(root)


def local_file(root: Path, digest: str) -> Path:
    return root / ENVS / f"{digest}.json"


def ref_files(root: Path, records: Sequence[Mapping[str, Any]]) -> dict[str, bytes]:
    """The ``envs/<hash>.json`` files the committed ``records`` refer to and this process has not committed."""
    files: dict[str, bytes] = {}
    for record in records:
        digest = (record.get("meta") or {}).get("environment")
        if not isinstance(digest, str) or (str(root), digest) in _on_ref or f"{ENVS}/{digest}.json" in files:
            continue
        try:
            files[f"{ENVS}/{digest}.json"] = local_file(root, digest).read_bytes()
        except OSError:
            continue  # recorded on another machine, and pulled: its file came with it
    return files


def committed(root: Path, paths: list[str]) -> None:
    """Remember the env files just committed (not committed again by this process)."""
    for path in paths:
        if path.startswith(f"{ENVS}/"):
            _on_ref.add((str(root), path[len(ENVS) + 1 : -len(".json")]))


def load(store: Any, digest: str | None) -> dict[str, Any] | None:
    """The environment stored under ``digest`` (from the ref, else from this machine's store directory)."""
    if not digest:
        return None
    data = None
    head = store.head()
    if head is not None:
        data = store.repo.read_blob(head, f"{ENVS}/{digest}.json")
    if data is None:
        try:
            data = local_file(store.root, digest).read_bytes()
        except OSError:
            return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def diff(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """What differs between two environments: one row per package added, removed or changed, and per changed
    python/platform/cuda/driver field (``{"name", "a", "b", "change"}``), sorted by name."""
    a, b = a or {}, b or {}
    rows = []
    for field in ("python", "implementation", "platform", "cuda", "cudnn", "driver"):
        if a.get(field) != b.get(field) and (a.get(field) or b.get(field)):
            rows.append({"name": field, "a": a.get(field), "b": b.get(field), "change": "changed"})
    pa, pb = a.get("packages") or {}, b.get("packages") or {}
    for name in sorted(set(pa) | set(pb)):
        va, vb = pa.get(name), pb.get(name)
        if va == vb:
            continue
        change = "added" if va is None else "removed" if vb is None else "changed"
        rows.append({"name": name, "a": va, "b": vb, "change": change})
    return rows


def format_change(row: Mapping[str, Any]) -> str:
    """``numpy 1.26.4 → 2.1.0``, ``+ torch 2.3.0``, ``- six 1.16.0``."""
    if row["change"] == "added":
        return f"+ {row['name']} {row['b']}"
    if row["change"] == "removed":
        return f"- {row['name']} {row['a']}"
    return f"{row['name']} {row['a']} → {row['b']}"


def of_run(store: Any, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The environment a run (a row of the wide table) was recorded in, or None when it recorded none."""
    return load(store, row.get("meta.environment"))


def current(store: Any) -> dict[str, Any]:
    """The environment of this interpreter (its file also kept for the store's next commit)."""
    current_hash(Path(store.root))
    try:
        value = json.loads(_proc["data"])
    except (KeyError, ValueError):
        return capture()
    return value if isinstance(value, dict) else capture()


def check_against(store: Any, row: Mapping[str, Any]) -> list[str]:
    """Warnings, one line each, naming what differs between a run's environment and the current one (for
    ``gitxp rerun``); empty when the same, or when the run recorded no environment."""
    recorded = of_run(store, row)
    if recorded is None:
        digest = row.get("meta.environment")
        if not digest:
            return []
        return [f"run {row['run_id']} recorded environment {digest}, which is not in this store"]
    rows = diff(recorded, current(store))
    if not rows:
        return []
    shown = ", ".join(format_change(r) for r in rows[:20])
    if len(rows) > 20:
        shown += f" (+{len(rows) - 20} more)"
    return [
        f"the environment differs from run {row['run_id']}'s ({len(rows)} difference{'s' * (len(rows) != 1)}; "
        f"'+' only here, '-' only in the run): {shown}"
    ]


def of_side(store: Any, digests: list[str | None]) -> tuple[str | None, dict[str, Any] | None, int]:
    """The environment of a side of a comparison (the runs' ``meta.environment`` values): the most common one,
    and how many distinct environments the side holds."""
    from collections import Counter

    counts = Counter(d for d in digests if d)
    if not counts:
        return None, None, 0
    digest = counts.most_common(1)[0][0]
    return digest, load(store, digest), len(counts)
