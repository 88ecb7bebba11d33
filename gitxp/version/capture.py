"""Capturing the exact code a run uses: HEAD's commit plus a patch of every uncommitted change.

The patch covers staged and unstaged changes to tracked files and untracked, non-ignored text files. It is built in
a private copy of the index (``GIT_INDEX_FILE``), so the user's index, working tree and HEAD are never touched;
``git apply`` on a checkout of the commit reproduces the working tree. Untracked binary files and files over
``max_file_bytes`` are not embedded: they are listed in the patch header by path, size and sha256, with a warning.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from gitxp.errors import GitxpWarning
from gitxp.git.repo import Repo
from gitxp.version.secrets import is_secret_file

__all__ = [
    "Version",
    "capture",
    "GitxpWarning",
    "MAX_FILE_BYTES",
    "NO_GIT",
    "materialize",
    "remove_worktree",
    "version_tree",
    "require_commit",
    "NO_LOCKS",
]

MAX_FILE_BYTES = int(os.environ.get("GITXP_MAX_UNTRACKED_BYTES", 1_000_000))
NO_GIT = "nogit"
NO_LOCKS = {"GIT_OPTIONAL_LOCKS": "0"}


@dataclass(frozen=True)
class SkippedFile:
    path: str
    size: int
    sha256: str
    reason: str


@dataclass(frozen=True)
class Version:
    """The code of a run: ``commit`` (None with git disabled), ``branch``, and the uncommitted ``patch``."""

    commit: str | None
    branch: str | None = None
    patch: bytes = b""
    skipped: tuple[SkippedFile, ...] = field(default=())
    secrets: tuple[str, ...] = field(
        default=()
    )  # untracked secret-looking files left out (gitxp.version.secrets)
    # what the id hashes when it differs from ``patch``: notebooks as their cell sources (gitxp.notebook), so
    # that outputs, execution counts and metadata are not code; ``b""`` when only those changed
    identity: bytes | None = field(default=None, compare=False)

    @property
    def dirty(self) -> bool:
        return bool(self.patch or self.skipped)

    @property
    def code_dirty(self) -> bool:
        """Whether the code differs from the commit (a notebook whose outputs alone changed does not)."""
        return bool(self.skipped) or bool(self.patch if self.identity is None else self.identity)

    @property
    def diff_hash(self) -> str | None:
        if not self.code_dirty:
            return None
        digest = hashlib.sha256(self.patch if self.identity is None else self.identity)
        for item in self.skipped:
            digest.update(f"\0{item.path}\0{item.sha256}".encode())
        return digest.hexdigest()[:7]

    @property
    def id(self) -> str:
        """``a1b2c3d`` for a clean checkout, ``a1b2c3d+d.9f8e2c1`` with uncommitted changes, ``nogit`` without git."""
        if self.commit is None:
            return NO_GIT
        short = self.commit[:7]
        return f"{short}+d.{self.diff_hash}" if self.code_dirty else short

    def patch_text(self) -> bytes:
        """The stored patch: a header naming files kept by hash only, then a ``git apply``-able diff."""
        header = b"".join(
            f"# gitxp: not embedded ({s.reason}): {s.path} size={s.size} sha256={s.sha256}\n".encode()
            for s in self.skipped
        )
        return header + self.patch


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_binary(path: Path) -> bool:
    with open(path, "rb") as handle:
        return b"\0" in handle.read(8000)


def _parse_status(repo: Repo, status: bytes) -> tuple[str, str | None, bool, list[str], list[str]]:
    """Parse ``git status --porcelain=v2 --branch -z``: commit, branch, dirty, untracked paths, changed tracked
    paths."""
    commit, branch, dirty, untracked, changed = "", None, False, [], []
    for entry in status.split(b"\0"):
        if entry.startswith(b"# branch.oid "):
            commit = entry[13:].decode()
        elif entry.startswith(b"# branch.head "):
            head = entry[14:].decode()
            branch = None if head == "(detached)" else head
        elif entry.startswith(b"? "):
            untracked.append(entry[2:].decode(errors="surrogateescape"))
        elif entry[:2] in (b"1 ", b"2 ", b"u "):
            dirty = True
            fields = entry.split(b" ", 10 if entry[:2] == b"u " else 8)
            changed.append(fields[-1].decode(errors="surrogateescape"))
    if not commit or commit == "(initial)":
        repo.head()  # raises NoCommitError with the full message
    return commit, branch, dirty, untracked, changed


_patterns: dict[str, tuple[str, ...]] = {}


def secret_patterns(repo: Repo) -> tuple[str, ...]:
    """The secret-file patterns of ``repo``: gitxp's defaults plus ``git config gitxp.secretFiles`` (read once per
    process and repository)."""
    key = str(repo.git_dir)
    if key not in _patterns:
        from gitxp.version.secrets import secret_file_patterns

        _patterns[key] = secret_file_patterns(repo.config().get("gitxp.secretfiles", []))
    return _patterns[key]


IGNORE_FILE = ".gitxpignore"
_warned: set[str] = set()


def _warn_secrets(paths: list[str]) -> None:
    new = [p for p in paths if p not in _warned]
    if new:
        _warned.update(new)
        warnings.warn(
            f"gitxp: file(s) that look secret are not recorded (untracked, or edits of tracked ones): {', '.join(new)} "
            "(listed in the run's meta as version.secrets_skipped)",
            GitxpWarning,
            stacklevel=3,
        )


def gitxpignore_option(repo: Repo) -> list[str]:
    """``git ls-files`` option that applies ``.gitxpignore`` (none when the repository has no such file)."""
    path = repo.worktree / IGNORE_FILE if repo.worktree is not None else None
    return [f"--exclude-from={path}"] if path is not None and path.is_file() else []


def _without_gitxpignored(repo: Repo, untracked: list[str]) -> list[str]:
    """Untracked files minus those matched by ``.gitxpignore`` (gitignore syntax, at the repository's root):
    files that must not change the version, such as logs redirected into the repository. What ``.gitignore``
    ignores is never captured in the first place."""
    option = gitxpignore_option(repo) if untracked else []
    if not option:
        return untracked
    listed = repo.git("ls-files", "-z", "--others", "--exclude-standard", *option, env=NO_LOCKS)
    keep = {p.decode(errors="surrogateescape") for p in listed.split(b"\0") if p}
    return [path for path in untracked if path in keep]


def capture(repo: Repo, *, max_file_bytes: int = MAX_FILE_BYTES) -> Version:
    """Return the version of the working tree of ``repo`` (``NoCommitError`` when there is no commit)."""
    if repo.worktree is None:
        return Version(*repo.head())
    status = repo.git(
        "status",
        "--porcelain=v2",
        "--branch",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--ignore-submodules=dirty",
        env=NO_LOCKS,
    )
    commit, branch, dirty, untracked, changed = _parse_status(repo, status)
    untracked = _without_gitxpignored(repo, untracked)
    if not dirty and not untracked:
        return Version(commit, branch)
    include: list[str] = []
    skipped: list[SkippedFile] = []
    patterns = secret_patterns(repo)
    secrets = [rel for rel in untracked if is_secret_file(rel, patterns)]
    tracked_secrets = [rel for rel in changed if is_secret_file(rel, patterns)]  # edits of a tracked .env
    _warn_secrets(secrets + tracked_secrets)
    for rel in untracked:
        if rel in secrets:
            continue
        path = repo.worktree / rel
        if not path.is_file():
            continue
        size = path.stat().st_size
        reason = "over size cap" if size > max_file_bytes else "binary" if _is_binary(path) else None
        if reason:
            skipped.append(SkippedFile(rel, size, _sha256_file(path), reason))
        else:
            include.append(rel)
    for item in skipped:
        warnings.warn(
            f"gitxp: untracked {item.reason} file {item.path} ({item.size} bytes) recorded by hash only; "
            "commit it or add it to .gitignore",
            GitxpWarning,
            stacklevel=3,
        )
    tmpdir = tempfile.mkdtemp(prefix="gitxp-index-", dir=repo.git_dir)
    try:
        index = Path(tmpdir) / "index"
        real_index = repo.git_dir / "index"
        env = {"GIT_INDEX_FILE": str(index), **NO_LOCKS}
        if real_index.exists():
            # with its time: git trusts the stat data of an entry only when the index file is newer ("racy git")
            shutil.copy2(real_index, index)
        else:
            repo.git("read-tree", "HEAD", env=env)
        repo.git("add", "--update", "--", ":/", env=env)
        if tracked_secrets:  # their committed content, not the edit: the patch leaves them out
            paths = b"\0".join(p.encode(errors="surrogateescape") for p in tracked_secrets)
            repo.git(
                "reset", "-q", commit, "--pathspec-from-file=-", "--pathspec-file-nul", input=paths, env=env
            )
        if include:
            paths = b"\0".join(p.encode(errors="surrogateescape") for p in include)
            repo.git("add", "--force", "--pathspec-from-file=-", "--pathspec-file-nul", input=paths, env=env)
        patch = repo.git(
            "-c",
            "core.quotepath=off",
            "diff",
            "--cached",
            "--binary",
            "--full-index",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--no-renames",
            "--ignore-submodules=dirty",
            commit,
            "--",
            env=env,
        )
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    identity = None
    if b".ipynb" in patch or b".gitxp/executed/" in patch:
        from gitxp.version.ipynb import readable_patch, split_executed

        # notebooks by their cell sources; a kernel's executed cells (in a rerun's worktree) are not code
        identity = split_executed(readable_patch(repo, patch))[0]
        identity = None if identity == patch else identity
    return Version(commit, branch, patch, tuple(skipped), tuple(secrets + tracked_secrets), identity)


# ---------------------------------------------------------------------- materializing a version


def require_commit(repo: Repo, commit: str | None, what: str) -> str:
    """The full sha of ``commit``, or a clear error when it is not in this repository."""
    from gitxp.errors import UsageError

    if not commit:
        raise UsageError(f"{what} was recorded without git (--no-git): there is no code version to restore")
    sha = repo.resolve(commit)
    if sha is None:
        raise UsageError(
            f"commit {commit[:12]} of {what} is not in this repository; fetch it first "
            "(git fetch --all, or gitxp pull for runs recorded elsewhere)"
        )
    return sha


def _apply(
    repo: Repo,
    patch: bytes,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    cached: bool = False,
) -> None:
    from gitxp.git.repo import run_git

    if not patch.strip() or b"diff --git" not in patch:
        return
    args = ["apply", "--binary", "--whitespace=nowarn", *(["--cached"] if cached else []), "-"]
    if cwd is not None:
        run_git(args, cwd=cwd, input=patch, env=env)
    else:
        repo.git(*args, input=patch, env=env)


def materialize(repo: Repo, commit: str, patch: bytes, dest: Path) -> Path:
    """Check ``commit`` out in a new linked worktree at ``dest`` (detached: no branch is created) and apply the
    run's ``patch`` there, so that ``dest`` holds exactly the code the run used."""
    repo.git("worktree", "add", "--detach", "--quiet", str(dest), commit)
    try:
        if (dest / ".gitmodules").exists():
            from gitxp.git.repo import run_git

            proc = run_git(["submodule", "update", "--init", "--recursive", "--quiet"], cwd=dest, check=False)
            if proc.returncode != 0:
                warnings.warn(
                    f"gitxp: submodules of {commit[:7]} could not be checked out: "
                    f"{proc.stderr.decode(errors='replace').strip()[-200:]}",
                    GitxpWarning,
                    stacklevel=2,
                )
        _apply(repo, patch, cwd=dest)
    except Exception:
        remove_worktree(repo, dest)
        raise
    return dest


def remove_worktree(repo: Repo, dest: Path) -> None:
    repo.run(["worktree", "remove", "--force", str(dest)], check=False)
    shutil.rmtree(dest, ignore_errors=True)
    repo.run(["worktree", "prune"], check=False)


def version_tree(repo: Repo, commit: str, patch: bytes) -> str:
    """The git tree of a version (``commit`` + ``patch``), built in a private index: diffable with ``git diff``."""
    tmpdir = tempfile.mkdtemp(prefix="gitxp-tree-", dir=repo.git_dir)
    try:
        env = {"GIT_INDEX_FILE": str(Path(tmpdir) / "index")}
        repo.git("read-tree", commit, env=env)
        _apply(repo, patch, env=env, cached=True)
        return repo.git("write-tree", env=env).decode().strip()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
