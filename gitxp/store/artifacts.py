"""Artifacts: files a run produced (plots, predictions, configs, small models, checkpoints).

``run.log_artifact(path, name=None)`` / ``run.log_artifacts(folder)``, and everything a wrapped command writes under
``$GITXP_OUTPUT_DIR/artifacts/``. Each artifact is recorded in the run's ``artifacts.json`` (name, size, sha256,
where it is stored):

- small files (``gitxp.artifacts.maxSize``, default 10 MB, git size suffixes allowed: ``500k``, ``50m``) are stored
  as git blobs in the run's tree on ``refs/gitxp/runs`` (``runs/.../<id>/artifacts/<name>``): content-addressed by
  git, so identical files are stored once across runs, and they travel with ``gitxp push``/``pull``;
- larger files are copied, content-addressed (``sha256/<ab>/<hash>``), with fsspec to the artifact location:
  ``gitxp.artifacts.location`` (any fsspec URL: ``s3://bucket/path``, ``gs://...``, a shared directory), by default
  ``.git/gitxp/artifacts``. ``$GITXP_ARTIFACT_LOCATION`` / ``$GITXP_ARTIFACT_MAX_SIZE`` override the config.

Inputs (``run.log_input(path)``: a data file, a config outside git) are artifacts named ``inputs/<path in the
repository>``; ``gitxp rerun`` restores them at that path in the re-run's worktree (hash-verified), as well as any
file the run's patch kept only by hash when an artifact has that hash.

Blobs stay reachable from the ref, so neither ``gitxp gc`` nor ``git gc`` drops one a run still references.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from gitxp.errors import GitxpError, UsageError, unknown_name
from gitxp.store.artifact_files import MANIFEST, STAGED, committed_files, read_manifest

if TYPE_CHECKING:
    from gitxp.git.repo import Repo
    from gitxp.store import Store


class Run(Protocol):
    """What this module needs of a :class:`gitxp.run.Run` (typed structurally: ``gitxp.run`` imports this module)."""

    attached: bool
    store: Store | None

    @property
    def staged(self) -> Any: ...

    @property
    def output_dir(self) -> Path: ...


__all__ = [
    "log_artifact",
    "log_artifacts",
    "log_input",
    "restore_inputs",
    "committed_files",
    "list_artifacts",
    "get_artifact",
    "restore",
    "download",
    "run_artifacts",
    "RunArtifacts",
    "collect_output",
]

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
_CHUNK = 1 << 20


def _config(repo: Repo | None, key: str, kind: str | None = None) -> str:
    if repo is None:
        return ""
    args = [
        "config",
        *(["--type", kind] if kind else []),
        "--default",
        "0" if kind == "int" else "",
        "--get",
        key,
    ]
    try:
        return repo.git(*args).decode().strip()
    except GitxpError as error:
        raise UsageError(f"git config {key}: {error}") from None


def max_size(repo: Repo | None) -> int:
    raw = os.environ.get("GITXP_ARTIFACT_MAX_SIZE")
    if raw:
        units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
        text = raw.strip().lower()
        try:
            return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)
        except ValueError:
            raise UsageError(
                f"GITXP_ARTIFACT_MAX_SIZE={raw!r}: expected a size such as 10485760 or 10m"
            ) from None
    value = _config(repo, "gitxp.artifacts.maxSize", "int")
    return int(value) if value and int(value) > 0 else DEFAULT_MAX_SIZE


def location(store: Store) -> str:
    return (
        os.environ.get("GITXP_ARTIFACT_LOCATION")
        or _config(store.repo, "gitxp.artifacts.location")
        or str(store.root / "artifacts")
    )


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError:
        raise GitxpError(
            "artifacts above gitxp.artifacts.maxSize go through fsspec, which is not installed: "
            "pip install 'gitxp[artifacts]'"
        ) from None
    return fsspec


def _check_name(name: str) -> str:
    clean = PurePosixPath(name.replace(os.sep, "/"))
    if not name or clean.is_absolute() or ".." in clean.parts or str(clean) in ("", "."):
        raise UsageError(f"artifact name {name!r}: give a relative path without '..'")
    return str(clean)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _external_key(sha: str) -> str:
    return f"sha256/{sha[:2]}/{sha}"


def _stage(run: Run, source: Path, name: str) -> dict[str, Any]:
    """Record ``source`` as artifact ``name`` of the (non-attached) ``run``; returns its manifest entry."""
    assert run.store is not None
    folder = run.staged.path
    size = source.stat().st_size
    sha = _sha256(source)
    entry: dict[str, Any] = {"name": name, "size": size, "sha256": sha}
    if size <= max_size(run.store.repo):
        target = folder / STAGED / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        entry["stored"] = "ref"
    else:
        fsspec = _fsspec()
        base = location(run.store)
        fs, root = fsspec.core.url_to_fs(base)
        key = f"{root.rstrip('/')}/{_external_key(sha)}"
        if not fs.exists(key):
            fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
            fs.put_file(str(source), key + ".partial")
            fs.mv(key + ".partial", key)
        entry.update(stored="location", url=f"{base.rstrip('/')}/{_external_key(sha)}")
    manifest = read_manifest(folder / MANIFEST)
    manifest[name] = entry
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    tmp.replace(folder / MANIFEST)
    return entry


def log_artifact(run: Run, path: str | os.PathLike[str], name: str | None = None) -> dict[str, Any]:
    source = Path(path)
    if not source.is_file():
        raise UsageError(f"log_artifact: {str(path)!r} is not a file")
    name = _check_name(name if name is not None else source.name)
    if (
        run.attached
    ):  # under gitxp run: the wrapper collects $GITXP_OUTPUT_DIR/artifacts/ when the command ends
        target = run.output_dir / "artifacts" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        return {"name": name, "size": target.stat().st_size}
    return _stage(run, source, name)


def log_artifacts(
    run: Run, folder: str | os.PathLike[str], prefix: str | None = None
) -> list[dict[str, Any]]:
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"log_artifacts: {str(folder)!r} is not a directory")
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        entries.append(log_artifact(run, path, f"{prefix.rstrip('/')}/{relative}" if prefix else relative))
    return entries


def collect_output(run: Run) -> None:
    """Record everything under the run's ``output_dir/artifacts/`` (a wrapped command's artifacts)."""
    folder = run.output_dir / "artifacts"
    if folder.is_dir() and not run.attached:
        log_artifacts(run, folder)


def list_artifacts(store: Store, run_id: str) -> list[dict[str, Any]]:
    data = store.run_file(run_id, MANIFEST)
    manifest: Mapping[str, Any] = json.loads(data) if data else {}
    return [manifest[name] for name in sorted(manifest)]


def get_artifact(store: Store, run_id: str, name: str, output: Path) -> dict[str, Any]:
    """Restore artifact ``name`` of ``run_id`` to ``output``, verifying its sha256 (nothing written on mismatch)."""
    entries = {entry["name"]: entry for entry in list_artifacts(store, run_id)}
    if name not in entries:
        raise unknown_name("artifact", name, entries, where=f"run {run_id}: ")
    entry = entries[name]
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".gitxp-partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as sink:
            if entry.get("stored") == "ref":
                data = store.run_file(run_id, f"artifacts/{name}")
                if data is None:
                    raise GitxpError(f"run {run_id}: artifact {name!r} is missing from the store")
                digest.update(data)
                sink.write(data)
            else:
                fsspec = _fsspec()
                try:
                    with fsspec.open(entry["url"], "rb") as source:
                        while chunk := source.read(_CHUNK):
                            digest.update(chunk)
                            sink.write(chunk)
                except FileNotFoundError:
                    raise GitxpError(
                        f"run {run_id}: artifact {name!r} is not at {entry['url']} (configure "
                        "gitxp.artifacts.location to where the large artifacts are shared)"
                    ) from None
        if digest.hexdigest() != entry["sha256"]:
            raise GitxpError(
                f"run {run_id}: artifact {name!r} is corrupt (sha256 {digest.hexdigest()[:12]}..., "
                f"recorded {entry['sha256'][:12]}...); nothing written"
            )
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return entry


def _select(store: Store, run_id: str, name: str) -> tuple[bool, list[dict[str, Any]], str]:
    """(is one file, the entries ``name`` stands for, the folder prefix): a file's name, a logged directory
    (``plots`` or ``plots/`` for ``plots/a.png``, ``plots/deep/b.png``), or ``""`` for every artifact."""
    entries = list_artifacts(store, run_id)
    clean = name.replace(os.sep, "/").strip("/")
    if clean and not name.endswith("/") and any(e["name"] == clean for e in entries):
        return True, [e for e in entries if e["name"] == clean], ""
    prefix = f"{_check_name(clean)}/" if clean else ""
    inside = [e for e in entries if e["name"].startswith(prefix)]
    if not inside:
        folders = {str(PurePosixPath(e["name"]).parent) + "/" for e in entries} - {"./"}
        if not entries:
            raise UsageError(f"run {run_id} has no artifacts")
        raise unknown_name(
            "artifact", name, [e["name"] for e in entries] + sorted(folders), where=f"run {run_id}: "
        )
    return False, inside, prefix


def restore(store: Store, run_id: str, name: str, target: Path) -> list[dict[str, Any]]:
    """Write artifact ``name`` of ``run_id`` at ``target``: a file there, or -- for a logged directory (or ``""``,
    every artifact) -- its files under the folder ``target`` with their relative paths. Each file's sha256 is
    verified (a corrupt one is not written). Returns the entries written."""
    single, entries, prefix = _select(store, run_id, name)
    if single:
        return [get_artifact(store, run_id, entries[0]["name"], target)]
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file: artifact {name!r} is a directory of {len(entries)} files")
    for entry in entries:
        get_artifact(store, run_id, entry["name"], target / _check_name(entry["name"][len(prefix) :]))
    return entries


def download(store: Store, run_id: str, name: str = "", dest: Path | None = None) -> Path:
    """As MLflow's ``download_artifacts``: artifact ``name`` (a file, a logged directory, or ``""`` for all) of
    ``run_id`` into the folder ``dest`` (default: a new temporary folder), at ``dest/name``; returns that path."""
    if dest is None:
        import tempfile

        dest = Path(tempfile.mkdtemp(prefix=f"gitxp-{run_id[:12]}-"))
    clean = name.replace(os.sep, "/").strip("/")
    target = dest / _check_name(clean) if clean else dest
    restore(store, run_id, name, target)
    return target


def run_artifacts(run: Run, run_id: str) -> list[dict[str, Any]]:
    """The artifacts ``run`` recorded so far (its staging while it lives, the store once committed), by name."""
    staged = getattr(run.staged, "path", None)
    manifest = read_manifest(staged / MANIFEST) if staged is not None else {}
    if manifest:
        return [manifest[name] for name in sorted(manifest)]
    if run.store is None:
        return []
    return list_artifacts(run.store, run_id)


class RunArtifacts:
    """``run.log_artifact``, ``run.log_artifacts`` and ``run.artifacts`` (mixed into :class:`gitxp.Run`;
    ``run.log_input`` is :class:`gitxp.run.inputs.RunInputs`')."""

    id: str

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> dict[str, Any]:
        """Record a file as an artifact (see :mod:`gitxp.store.artifacts`); ``name`` defaults to its file name."""
        return log_artifact(self, path, name)  # type: ignore[arg-type]

    def log_artifacts(
        self, folder: str | os.PathLike[str], prefix: str | None = None
    ) -> list[dict[str, Any]]:
        """Record every file under ``folder`` as an artifact named by its relative path (under ``prefix``)."""
        return log_artifacts(self, folder, prefix)  # type: ignore[arg-type]

    @property
    def artifacts(self) -> list[dict[str, Any]]:
        """The files this run recorded (``log_artifact``/``log_artifacts``): name, size, sha256, where stored;
        ``gitxp.get_artifact(run.id, name, dest)`` restores one, or a logged directory."""
        return run_artifacts(self, self.id)  # type: ignore[arg-type]


INPUTS = "inputs/"


def log_input(run: Run, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Record a file the run read as an input artifact, restored by ``gitxp rerun`` at the same place."""
    source = Path(path).resolve()
    from gitxp.git.repo import Repo

    try:
        root = run.store.repo.worktree if run.store is not None else Repo.discover(source.parent).worktree
    except GitxpError:
        root = None
    if root is None or not source.is_relative_to(root.resolve()):
        raise UsageError(f"log_input: {str(path)!r} is outside the repository; record it with log_artifact")
    return log_artifact(run, source, INPUTS + source.relative_to(root.resolve()).as_posix())


def restore_inputs(
    store: Store, run_id: str, tree: Path, wanted: Mapping[str, str] | None = None
) -> list[str]:
    """Make a run's inputs available again in ``tree`` (a re-run's worktree): every ``inputs/<path>`` artifact at
    ``<path>``, and every path of ``wanted`` (path -> sha256: files the patch kept by hash) an artifact has the
    content of. Existing files are left alone. Returns the paths restored."""
    entries = list_artifacts(store, run_id)
    if not entries:
        return []
    by_hash = {entry["sha256"]: entry for entry in entries}
    targets = {e["name"][len(INPUTS) :]: e for e in entries if e["name"].startswith(INPUTS)}
    for path, digest in (wanted or {}).items():
        if digest in by_hash:
            targets.setdefault(path, by_hash[digest])
    restored = []
    for path, entry in sorted(targets.items()):
        dest = tree / _check_name(path)
        if not dest.exists():
            get_artifact(store, run_id, entry["name"], dest)
            restored.append(path)
    return restored
