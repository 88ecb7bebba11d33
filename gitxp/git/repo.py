"""The one place gitxp talks to git.

Everything goes through plain git plumbing run as subprocesses, a handful per operation and never one per value:
``rev-parse`` to locate things, ``fast-import`` to write a whole batch of files as one commit on a ref (it refuses
to move the ref unless the new commit descends from its current value, which makes every write a compare-and-swap),
``cat-file --batch`` to read many blobs through one process. See docs/design.md for why this is not GitPython.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

from gitxp.errors import NoCommitError, NotARepositoryError, StoreError

__all__ = ["Repo", "GitFailed", "ZERO_SHA"]

ZERO_SHA = "0" * 40
_COMMITTER = b"gitxp <gitxp@localhost>"


class GitFailed(StoreError):
    """A git command exited non-zero."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = stderr.strip()
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        key = [line for line in lines if line.startswith(("fatal:", "error:"))]
        key = list(dict.fromkeys(key))
        first = "; ".join(key[:2]) if key else lines[-1] if lines else f"exit code {returncode}"
        if re.search(r"does not match index|bad object|corrupt|unable to read|inflate", self.stderr):
            first += " (the repository's objects are damaged: 'git fsck' says which; fetch them again from a clone)"
        lock = re.search(r"'([^']+\.lock)'", self.stderr)
        if lock:
            first += f" (if no other git process is running, delete {lock.group(1)})"
        super().__init__(f"git {' '.join(args[:2])} failed: {first}")


def _clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LC_ALL", "C")
    env["GIT_TERMINAL_PROMPT"] = "0"
    if extra:
        env.update(extra)
    return env


def run_git(
    args: list[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` and return the completed process (``GitFailed`` when ``check`` and it fails)."""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, input=input, capture_output=True, env=_clean_env(env), check=False
        )
    except FileNotFoundError as error:
        raise StoreError("git is not installed or not on PATH") from error
    if check and proc.returncode != 0:
        raise GitFailed(args, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


_CONFIG: dict[str, dict[str, list[str]]] = {}  # git_dir -> its config (Repo.config)
_DISCOVERED: dict[tuple[str, str | None, str | None], Repo] = {}


@dataclass(frozen=True)
class Repo:
    """A git repository: ``worktree`` (None when bare), its ``git_dir`` and the ``common_dir`` shared by worktrees."""

    worktree: Path | None
    git_dir: Path
    common_dir: Path

    # ------------------------------------------------------------------ discovery

    @classmethod
    def discover(cls, path: str | os.PathLike[str] | None = None) -> Repo:
        """Find the repository containing ``path`` (default: the current directory); cached per process."""
        cwd = Path(path or os.getcwd()).absolute()
        key = (str(cwd), os.environ.get("GIT_DIR"), os.environ.get("GIT_WORK_TREE"))
        found = _DISCOVERED.get(key)
        if found is not None and (found.git_dir / "HEAD").exists():
            return found
        found = cls._discover(cwd)
        _DISCOVERED[key] = found
        return found

    @classmethod
    def _discover(cls, cwd: Path) -> Repo:
        # one process: --show-toplevel fails (after printing the rest) where there is no work tree
        proc = run_git(
            [
                "rev-parse",
                "--is-bare-repository",
                "--absolute-git-dir",
                "--git-common-dir",
                "--show-toplevel",
            ],
            cwd=cwd,
            check=False,
        )
        lines = proc.stdout.decode().splitlines()
        no_worktree = proc.returncode != 0 and b"must be run in a work tree" in proc.stderr
        if (proc.returncode != 0 and not no_worktree) or len(lines) < 3:
            raise NotARepositoryError(
                f"not a git repository: {cwd} (run 'git init' and commit, or pass --no-git / git=False)"
            )
        bare, git_dir, common = lines[:3]
        common_dir = Path(common) if os.path.isabs(common) else (cwd / common)
        worktree = None
        if bare != "true" and not no_worktree and len(lines) > 3 and lines[3].strip():
            worktree = Path(lines[3].strip())
        return cls(worktree, Path(git_dir), common_dir.resolve())

    @classmethod
    def init_bare(cls, path: Path) -> Repo:
        """Create (or open) a bare repository at ``path``: the store used when there is no project repository."""
        if not (path / "HEAD").exists():
            path.mkdir(parents=True, exist_ok=True)
            run_git(["init", "--bare", "--quiet", str(path)])
        return cls(None, path.resolve(), path.resolve())

    # ------------------------------------------------------------------ commands

    def git(self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None) -> bytes:
        """Run a git command in this repository and return its stdout."""
        return self.run(list(args), input=input, env=env).stdout

    def run(
        self,
        args: list[str],
        *,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        cwd = self.worktree or self.git_dir
        extra = dict(env or {})
        if self.worktree is None:
            extra.setdefault("GIT_DIR", str(self.git_dir))
        return run_git(args, cwd=cwd, input=input, env=extra, check=check)

    def config(self) -> dict[str, list[str]]:
        """Every git config entry this repository sees (system, global, local), keys as git prints them (section
        and name lowercased: ``gitxp.secretfiles``): read once per process with one ``git config --list``, and
        shared by whoever asks (the secret-file patterns, the default experiment). ``set_config`` keeps it true."""
        key = str(self.git_dir)
        if key not in _CONFIG:
            out = self.run(["config", "--list", "-z"], check=False).stdout.decode(errors="replace")
            entries: dict[str, list[str]] = {}
            for item in out.split("\0"):
                if item:
                    name, _, value = item.partition("\n")
                    entries.setdefault(name, []).append(value)
            _CONFIG[key] = entries
        return _CONFIG[key]

    def set_config(self, name: str, value: str) -> bool:
        """``git config NAME VALUE`` in this repository (False when git refused: a read-only ``.git``)."""
        done = self.run(["config", name, value], check=False).returncode == 0
        if done:
            self.config()[name.lower()] = [value]
        return done

    # ------------------------------------------------------------------ refs and revisions

    def head(self) -> tuple[str, str | None]:
        """Return ``(commit sha, branch name or None when detached)``; ``NoCommitError`` if there is no commit."""
        proc = self.run(["rev-parse", "HEAD^{commit}", "--symbolic-full-name", "HEAD"], check=False)
        lines = proc.stdout.decode().split()
        if proc.returncode != 0 or not lines:
            raise NoCommitError(
                f"repository {self.worktree or self.git_dir} has no commit yet: commit your code first "
                "(gitxp records runs against a commit), or pass --no-git / git=False"
            )
        sha = lines[0]
        full = lines[1] if len(lines) > 1 else "HEAD"
        branch = full[len("refs/heads/") :] if full.startswith("refs/heads/") else None
        return sha, branch

    def read_ref(self, name: str) -> str | None:
        """Return the sha a ref points to, or None. Reads the ref files directly when it can (no subprocess)."""
        loose = self.common_dir / name
        try:
            value = loose.read_text().strip()
            if len(value) == 40 and not value.startswith("ref:"):
                return value
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            pass
        except OSError:  # a name no file can have (too long, a NUL): no such ref
            return None
        if not (self.common_dir / "reftable").exists():
            try:
                for line in (self.common_dir / "packed-refs").read_text().splitlines():
                    if line.endswith(" " + name) and not line.startswith(("#", "^")):
                        return line.split(" ", 1)[0]
            except FileNotFoundError:
                pass
            try:
                if not loose.exists():
                    return None
            except (OSError, ValueError):
                return None
        proc = self.run(["rev-parse", "--verify", "-q", name], check=False)
        return proc.stdout.decode().strip() or None

    def resolve(self, rev: str) -> str | None:
        """Return the commit sha ``rev`` names, or None if it names no commit."""
        proc = self.run(["rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}"], check=False)
        return proc.stdout.decode().strip() or None

    def has_object(self, sha: str) -> bool:
        return self.run(["cat-file", "-e", sha], check=False).returncode == 0

    def existing(self, shas: Iterable[str]) -> list[str]:
        """The objects among ``shas`` that this repository has, asked in one ``git cat-file --batch-check``."""
        shas = list(dict.fromkeys(shas))
        if not shas:
            return []
        out = self.git(
            "cat-file", "--batch-check=%(objectname) %(objecttype)", input=("\n".join(shas) + "\n").encode()
        )
        lines = out.decode().splitlines()
        return [sha for sha, line in zip(shas, lines) if not line.endswith(" missing")]

    def ls_tree(self, treeish: str, *paths: str) -> list[tuple[str, str, str]]:
        """Return ``(type, sha, path)`` for every file under ``paths`` in ``treeish`` (recursive)."""
        out = self.git("ls-tree", "-r", "-z", "--full-tree", treeish, "--", *paths)
        rows = []
        for entry in out.split(b"\0"):
            if entry:
                info, path = entry.split(b"\t", 1)
                _mode, kind, sha = info.decode().split()
                rows.append((kind, sha, path.decode()))
        return rows

    def changed_paths(self, old: str, new: str) -> list[tuple[str, str, str]]:
        """Return ``(status, new blob sha, path)`` for files added or modified from commit ``old`` to ``new``."""
        out = self.git("diff-tree", "-r", "-z", "--no-renames", "--diff-filter=AM", old, new)
        fields = out.split(b"\0")
        rows = []
        for header, path in zip(fields[0::2], fields[1::2]):
            if header.startswith(b":"):
                parts = header.decode().split()
                rows.append((parts[4], parts[3], path.decode()))
        return rows

    @overload
    def read_blobs(self, shas: Iterable[str]) -> list[bytes]: ...
    @overload
    def read_blobs(self, shas: Iterable[str], *, missing_ok: Literal[True]) -> list[bytes | None]: ...

    def read_blobs(
        self, shas: Iterable[str], *, missing_ok: bool = False
    ) -> list[bytes] | list[bytes | None]:
        """Read many objects through a single ``git cat-file --batch`` process, in order (``missing_ok``: None for
        an object this repository lacks, instead of an error)."""
        shas = list(shas)
        if not shas:
            return []
        out = self.git("cat-file", "--batch", input=("\n".join(shas) + "\n").encode())
        blobs: list[bytes | None] = []
        pos = 0
        for sha in shas:
            end = out.index(b"\n", pos)
            header = out[pos:end].decode(errors="replace").split()
            if len(header) < 3 or header[1] == "missing":
                if not missing_ok:
                    raise StoreError(f"object {sha} is missing from the repository")
                blobs.append(None)
                pos = end + 1
                continue
            size = int(header[2])
            blobs.append(out[end + 1 : end + 1 + size])
            pos = end + 1 + size + 1
        return blobs

    def read_blob(self, treeish: str, path: str) -> bytes | None:
        proc = self.run(["cat-file", "blob", f"{treeish}:{path}"], check=False)
        return proc.stdout if proc.returncode == 0 else None

    # ------------------------------------------------------------------ writing

    def commit_files(
        self,
        ref: str,
        parent: str | None,
        files: Mapping[str, bytes | str],
        message: str,
        *,
        merge: str | None = None,
        delete: Iterable[str] = (),
    ) -> str | None:
        """Write ``files`` (path -> bytes, or path -> existing blob sha as ``str``) as one commit on ``ref``.

        The commit's parent is ``parent``; ``ref`` only moves if it still points to ``parent`` (or to an ancestor
        of the new commit), so a concurrent writer makes this return None instead of losing its data. Returns the
        new commit sha.
        """
        now = int(time.time())
        msg = message.encode()
        stream = [b"commit ", ref.encode(), b"\nmark :1\n", b"committer ", _COMMITTER, b" %d +0000\n" % now]
        stream += [b"data %d\n" % len(msg), msg, b"\n"]
        if parent:
            stream.append(b"from %s\n" % parent.encode())
        if merge:
            stream.append(b"merge %s\n" % merge.encode())
        for path in delete:
            stream.append(b"D %s\n" % path.encode())
        for path, data in files.items():
            if isinstance(data, str):
                stream.append(b"M 100644 %s %s\n" % (data.encode(), path.encode()))
            else:
                stream += [b"M 100644 inline ", path.encode(), b"\ndata %d\n" % len(data), data, b"\n"]
        stream.append(b"get-mark :1\n")
        # get-mark answers on --cat-blob-fd; send it to stdout so we learn the commit sha.
        proc = self.run(
            ["fast-import", "--quiet", "--cat-blob-fd=1", "--done"],
            input=b"".join(stream) + b"done\n",
            check=False,
        )
        if proc.returncode != 0:
            if b"Not updating" in proc.stderr:
                return None
            raise GitFailed(["fast-import"], proc.returncode, proc.stderr.decode(errors="replace"))
        return proc.stdout.decode().strip().splitlines()[-1]
