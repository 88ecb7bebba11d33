"""Reading runs back: ``gitxp.load`` and ``gitxp.metrics``, and the filters shared by ``ls``/``export``/``show``.

Filters compile to pyarrow compute expressions over the wide run table, so they run vectorised over the cached
Parquet file. ``--where`` takes a Python-like expression: ``results.valid_acc > 0.9 and params.optim == "adam"``;
a name may drop its group prefix when unambiguous (``valid_acc > 0.9``) and may be quoted with backticks when it
holds spaces (```params.batch size` >= 64``); that parsing is in :mod:`gitxp.query.where`, selection is here.
``--since REV`` asks git once which recorded commits descend from REV (:mod:`gitxp.query.ancestry`); the objective
``NAME:min|max|last`` and how a run's value for it is found is :mod:`gitxp.query.objective`.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError, unknown_name
from gitxp.query.ancestry import since_filter
from gitxp.query.where import column_kinds, resolve_column, where_expression
from gitxp.store import Store

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

__all__ = [
    "load",
    "metrics",
    "get_artifact",
    "select",
    "since_filter",
    "resolve_column",
    "check_experiments",
    "listing_table",
    "STATUSES",
]

STATUSES = ("running", "finished", "failed", "interrupted", "crashed", "pruned", "cancelled")


def check_experiments(
    table: pa.Table,
    names: Sequence[str],
    *,
    store: Store | None = None,
    show_archived: str = "--all",
    where: str = "-e: ",
) -> None:
    """A usage error for an experiment no run belongs to, naming the ones that exist (did you mean ...?); ``where``
    names what gave it (``-e: ``, ``gitxp.load: ``).

    With ``store``, an experiment whose runs are all archived says so and how to see them (``show_archived``:
    the option that does, ``--all`` for ``ls``); an empty ``table`` is then checked too."""
    if "experiment" not in table.column_names:
        known: list[str] = []
    else:
        known = sorted({e for e in table["experiment"].to_pylist() if e is not None})
    for name in names:
        if name in known:
            continue
        if store is not None:
            archived = archived_runs(store, name)
            if archived:
                raise UsageError(
                    f"{where}every run of experiment {name!r} is archived ({archived} run"
                    f"{'' if archived == 1 else 's'}): {show_archived} includes them, "
                    f"'gitxp unarchive -e {name}' brings them back"
                )
            if not table.num_rows:
                continue  # nothing recorded at all: an empty listing says so
        raise unknown_name("experiment", name, known, where=where)


def archived_runs(store: Store, experiment: str) -> int:
    """How many runs ``experiment`` has when every one of them is archived (else 0)."""
    import pyarrow.compute as pc

    def count(table: pa.Table) -> int:
        if not table.num_rows or "experiment" not in table.column_names:
            return 0
        return int(pc.sum(pc.fill_null(pc.equal(table["experiment"], experiment), False)).as_py() or 0)

    return 0 if count(store.table()) else count(store.table(show="archived"))


def listing_table(
    store: Store,
    *,
    archived: bool = False,
    tags: Sequence[str] = (),
    note: str | None = None,
    experiment: Sequence[str] = (),
    since: str | None = None,
    show_archived: str = "--all",
    where: str = "-e: ",
) -> pa.Table:
    """The runs ``gitxp ls``, ``gitxp compare`` and ``gitxp.load`` select from: the visible ones (``archived``:
    archived ones too) with all of ``tags`` / a note containing ``note``, whose commit is ``since`` or descends
    from it. Each name in ``experiment`` must be an experiment of these runs before ``since`` narrows them (one
    whose runs are all older is no error, only an empty selection); see :func:`check_experiments` for
    ``show_archived`` and ``where``."""
    table = store.table(show="archived" if archived else "visible")
    if tags or note is not None:
        from gitxp.store.lifecycle import filter_table

        table = filter_table(table, list(tags), note)
    if experiment and (not archived or table.num_rows):  # all archived: say so, and how to see them
        check_experiments(
            table, experiment, store=None if archived else store, show_archived=show_archived, where=where
        )
    if since:
        table = since_filter(store, table, since)
    return table


# ---------------------------------------------------------------------- selection


def _match_version(store: Store, table: pa.Table, rev: str) -> pc.Expression:
    import pyarrow.compute as pc

    if "+d." in rev or rev == "nogit":
        return pc.starts_with(pc.field("version"), rev)
    sha = store.repo.resolve(rev)
    if sha is not None:
        return pc.field("commit") == sha
    if table.num_rows and pc.any(pc.starts_with(table["version"], rev)).as_py():
        return pc.starts_with(pc.field("version"), rev)
    raise UsageError(f"--version {rev!r}: not a commit, branch, tag or recorded version")


def select(
    store: Store,
    table: pa.Table,
    *,
    experiment: str | Sequence[str] | None = None,
    version: str | None = None,
    status: str | Sequence[str] | None = None,
    where: str | None = None,
    sort: str | Sequence[str] | None = None,
    limit: int | None = None,
    columns: str | Sequence[str] | None = None,
    keep_order: bool = False,
) -> pa.Table:
    """Filter, sort, limit and project a run table (the options of ``gitxp ls``); newest first unless sorted
    (or ``keep_order``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    conditions = []
    if experiment:
        from gitxp.store.tables import retype

        names = [experiment] if isinstance(experiment, str) else list(experiment)
        table = retype(table.filter(pc.field("experiment").isin(names)))  # each experiment's own types
    if version:
        conditions.append(_match_version(store, table, version))
    if status:
        wanted = [s.strip() for s in ([status] if isinstance(status, str) else status) for s in s.split(",")]
        bad = [s for s in wanted if s not in STATUSES]
        if bad:
            raise UsageError(f"--status {bad[0]!r}: expected one of {', '.join(STATUSES)}")
        conditions.append(pc.field("status").isin(wanted))
    if where:
        conditions.append(where_expression(where, table.column_names, column_kinds(table.schema)))
    for condition in conditions:
        try:
            table = table.filter(condition)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise UsageError(f"filter cannot be applied: {str(error).splitlines()[0]}") from None
    if experiment and table.num_rows:  # other experiments' params/results/meta are all-null columns here
        table = table.select(
            [
                c
                for c in table.column_names
                if not c.startswith(("params.", "results.", "meta.")) or table[c].null_count < table.num_rows
            ]
        )
    if not sort and not keep_order and "started" in table.column_names:
        sort = "-started,-run_id"  # newest first, as git log: --limit N keeps the N most recent runs
    if sort:
        keys = []
        for item in [sort] if isinstance(sort, str) else sort:
            for key in item.split(","):
                key = key.strip()
                descending = key.startswith("-")
                name = resolve_column(key.lstrip("-+"), table.column_names)
                keys.append((name, "descending" if descending else "ascending"))
        if keys and table.num_rows:
            try:  # pyarrow >= 25 takes the null placement per key
                order = pc.sort_indices(table, sort_keys=[(n, o, "at_end") for n, o in keys])
            except (TypeError, ValueError, pa.ArrowInvalid):
                order = pc.sort_indices(table, sort_keys=keys, null_placement="at_end")
            table = table.take(order)
    if limit is not None:
        if limit < 0:
            raise UsageError("--limit must be >= 0")
        table = table.slice(0, limit)
    if columns:
        wanted_cols: list[str] = []
        for item in [columns] if isinstance(columns, str) else columns:
            for name in item.split(","):
                name = name.strip()
                if any(ch in name for ch in "*?["):
                    wanted_cols += [c for c in table.column_names if fnmatch.fnmatchcase(c, name)]
                elif name:
                    wanted_cols.append(resolve_column(name, table.column_names))
        table = table.select(list(dict.fromkeys(wanted_cols)))
    return table


def load(
    experiment: str | Sequence[str] | None = None,
    version: str | None = None,
    *,
    status: str | Sequence[str] | None = None,
    where: str | None = None,
    sort: str | Sequence[str] | None = None,
    limit: int | None = None,
    columns: str | Sequence[str] | None = None,
    since: str | None = None,
    tag: str | Sequence[str] | None = None,
    note: str | None = None,
    archived: bool = False,
    path: str | os.PathLike[str] | None = None,
) -> pa.Table:
    """All recorded runs as a pyarrow Table, one row per run, newest first (unless ``sort`` is given).

    Columns: ``run_id, experiment, version, commit, branch, status, started, ended, duration``, then
    ``params.*``, ``results.*`` and ``meta.*`` (with ``experiment``, only the columns its runs use).
    ``.to_pandas()`` gives a DataFrame. Filters are those of ``gitxp ls``: ``version`` is any git revision
    (matched on the run's commit) or a version id; ``since`` keeps runs whose commit is that revision or
    descends from it; ``tag``/``note`` keep runs with these tags / whose note contains the text (``gitxp tag``,
    ``gitxp note``); archived runs are left out unless ``archived=True``.
    """
    store = Store.open(path)
    table = listing_table(
        store,
        archived=archived,
        tags=[tag] if isinstance(tag, str) else list(tag or ()),
        note=note,
        experiment=[experiment] if isinstance(experiment, str) else list(experiment or ()),
        since=since,
        show_archived="archived=True",
        where="gitxp.load: ",
    )
    return select(
        store,
        table,
        experiment=experiment,
        version=version,
        status=status,
        where=where,
        sort=sort,
        limit=limit,
        columns=columns,
    )


def metrics(run_id: str | Sequence[str], *, path: str | os.PathLike[str] | None = None) -> pa.Table:
    """The curves of one run (id or unique prefix) as a long table: ``step, name, value, time``; of several
    runs (a list of ids) as one long table with a leading ``run_id`` column."""
    import pyarrow as pa

    store = Store.open(path)
    if isinstance(run_id, str):
        return store.metrics(store.resolve_run(run_id))
    if not isinstance(run_id, Sequence):
        raise TypeError(f"gitxp.metrics takes a run id or a list of run ids, not {type(run_id).__name__}")
    table = store.table()
    parts = []
    for item in run_id:
        full = store.resolve_run(item, table)
        part = store.metrics(full)
        parts.append(part.add_column(0, "run_id", pa.array([full] * part.num_rows, pa.string())))
    if not parts:
        return pa.table(
            {
                "run_id": pa.array([], pa.string()),
                "step": pa.array([], pa.int64()),
                "name": pa.array([], pa.string()),
                "value": pa.array([], pa.float64()),
                "time": pa.array([], pa.float64()),
            }
        )
    return pa.concat_tables(parts, promote_options="default")


def get_artifact(
    run: str | Any,
    name: str = "",
    dest: str | os.PathLike[str] | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
) -> Path:
    """Restore artifact ``name`` of ``run`` (a run id or unique prefix, or a :class:`gitxp.Run`) into the folder
    ``dest`` (default: a new temporary folder) and return its local path, ``dest/name``, as MLflow's
    ``download_artifacts`` does: ``name`` is a file (``"model.pt"``), a logged directory (``"plots"``: every file
    under it, with its relative path) or ``""`` (every artifact). Every file's sha256 is verified."""
    from gitxp.store.artifacts import download

    store = Store.open(path)
    run_id = store.resolve_run(run if isinstance(run, str) else str(run.id))
    return download(store, run_id, name, Path(dest) if dest is not None else None)
