"""Which recorded commits descend from a revision (``--since REV``): one question to git for the whole table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitxp.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from gitxp.store import Store

__all__ = ["since_filter", "descendants", "on_history", "newest", "distance", "merge_base"]


def descendants(store: Store, base: str, commits: list[str]) -> set[str]:
    """The commits among ``commits`` that are ``base`` or descend from it.

    Two git processes whatever the number of runs or commits: one ``cat-file --batch-check`` drops the commits
    this clone does not have (recorded elsewhere, never fetched), one ``rev-list --ancestry-path`` walks from
    them back to ``base``."""
    known = store.repo.existing(commits)
    if not known:
        return set()
    out = store.repo.run(
        ["rev-list", "--ancestry-path", "--stdin", f"^{base}"], input=("\n".join(known) + "\n").encode()
    ).stdout.decode()
    return (set(out.split()) | {base}) & set(commits)


def since_filter(store: Store, table: pa.Table, rev: str) -> pa.Table:
    """Runs whose commit is ``rev`` or descends from it (hypero's "versions v1 and above")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    base = store.repo.resolve(rev)
    if base is None:
        raise UsageError(f"--since {rev!r}: not a commit, branch or tag")
    if not table.num_rows or "commit" not in table.column_names:
        return table.slice(0, 0)
    commits = [c for c in pc.unique(table["commit"]).to_pylist() if c]
    keep = descendants(store, base, commits)
    if not keep:
        return table.slice(0, 0)
    return table.filter(pc.is_in(table["commit"], value_set=pa.array(sorted(keep), pa.string())))


def on_history(store: Store, tip: str, commits: list[str]) -> set[str]:
    """The commits among ``commits`` that are ``tip`` or its ancestors (on its history).

    One ``rev-list`` walks from the candidates and stops where they join the tip's history: what it prints is not
    on that history, the rest is (commits this clone does not have are dropped first)."""
    known = store.repo.existing(commits)
    if not known:
        return set()
    out = store.repo.run(["rev-list", "--stdin", f"^{tip}"], input=("\n".join(known) + "\n").encode()).stdout
    return set(known) - set(out.decode().split())


def newest(store: Store, commits: list[str]) -> list[str]:
    """The commits among ``commits`` that no other of them descends from, newest committer date first (one,
    unless merged branches both have runs)."""
    if len(commits) <= 1:
        return list(commits)
    heads = store.repo.git("merge-base", "--independent", *commits).decode().split()
    if len(heads) <= 1:
        return heads
    dates = store.repo.git("log", "--no-walk", "--format=%H %ct", *heads).decode().split("\n")
    stamp = {line.split()[0]: int(line.split()[1]) for line in dates if line.strip()}
    return sorted(heads, key=lambda sha: -stamp.get(sha, 0))


def distance(store: Store, older: str, newer: str) -> int:
    """How many commits ``newer`` is ahead of its ancestor ``older``."""
    return int(store.repo.git("rev-list", "--count", f"{older}..{newer}").decode().strip() or 0)


def merge_base(store: Store, a: str, b: str) -> str | None:
    """The best common ancestor of ``a`` and ``b`` (None for unrelated histories)."""
    proc = store.repo.run(["merge-base", a, b], check=False)
    return proc.stdout.decode().strip() or None
