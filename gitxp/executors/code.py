"""Code that travels with a trial: a git bundle of the run's commit plus its uncommitted patch.

The client builds the bundle once per sweep (:func:`make_bundle`); each worker materializes a version once, in a
cache keyed by the version id outside any repository (:func:`checkout`, default ``~/.cache/gitxp/code``, or
``$GITXP_CODE_CACHE``), so that every trial of a version on that machine reuses the same checkout. Building it
is guarded by a file lock and finished by an atomic rename: concurrent workers on one host never see half a tree.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gitxp.git.repo import Repo, run_git
from gitxp.version.capture import Version

__all__ = ["make_bundle", "checkout", "cache_root"]


def cache_root() -> Path:
    """Where workers keep checked-out versions and their scratch store."""
    base = os.environ.get("GITXP_CODE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gitxp"
    )
    return Path(base)


def make_bundle(repo: Repo, commit: str) -> bytes:
    """A git bundle holding ``commit`` and its history (what a worker needs to check the version out)."""
    ref = f"refs/gitxp/bundle/{os.getpid()}"
    repo.git("update-ref", "--no-deref", ref, commit)
    try:
        with tempfile.TemporaryDirectory(prefix="gitxp-bundle-") as tmp:
            path = Path(tmp) / "code.bundle"
            repo.git("bundle", "create", "--quiet", str(path), ref)
            return path.read_bytes()
    finally:
        repo.run(["update-ref", "-d", ref], check=False)


def checkout(version: Version, bundle: bytes | None) -> Path:
    """The directory holding exactly ``version`` (commit + patch) on this machine, built on first use."""
    from filelock import FileLock

    assert version.commit is not None
    root = cache_root() / "code"
    root.mkdir(parents=True, exist_ok=True)
    dest = root / version.id.replace("+", "_")
    if (dest / ".gitxp-ready").exists():
        return dest
    with FileLock(str(dest) + ".lock", timeout=600):
        if (dest / ".gitxp-ready").exists():
            return dest
        if bundle is None:
            raise RuntimeError(f"version {version.id} is not cached on this worker and no bundle was sent")
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
        try:
            (tmp / "code.bundle").write_bytes(bundle)
            tree = tmp / "tree"
            run_git(["init", "--quiet", str(tree)])
            run_git(
                ["fetch", "--quiet", str(tmp / "code.bundle"), "+refs/gitxp/bundle/*:refs/gitxp/code/*"],
                cwd=tree,
            )
            run_git(
                ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", version.commit],
                cwd=tree,
            )
            if b"diff --git" in version.patch:
                run_git(["apply", "--binary", "--whitespace=nowarn", "-"], cwd=tree, input=version.patch)
            (tree / ".gitxp-ready").write_text(version.id + "\n")
            shutil.rmtree(dest, ignore_errors=True)
            tree.rename(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
