"""Which recorded commits descend from a revision (``--since REV``): one question to git for the whole table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitxp.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from gitxp.store import Store

__all__ = ["since_filter", "descendants"]


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
