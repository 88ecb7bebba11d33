"""Reading runs back: ``gitxp.load`` and ``gitxp.metrics``, and the filters shared by ``ls``/``export``/``show``.

Filters compile to pyarrow compute expressions over the wide run table, so they run vectorised over the cached
Parquet file. ``--where`` takes a Python-like expression: ``results.valid_acc > 0.9 and params.optim == "adam"``;
a name may drop its group prefix when unambiguous (``valid_acc > 0.9``) and may be quoted with backticks when it
holds spaces (```params.batch size` >= 64``).
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError, did_you_mean, unknown_name
from gitxp.store import Store

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

__all__ = ["load", "metrics", "select", "since_filter", "resolve_column", "check_experiments", "STATUSES"]

STATUSES = ("running", "finished", "failed", "interrupted", "crashed", "pruned", "cancelled")


def resolve_column(name: str, columns: Sequence[str]) -> str:
    """Return the column ``name`` refers to: exact, or unique after adding a params./results./meta. prefix."""
    if name in columns:
        return name
    candidates = [f"{g}.{name}" for g in ("params", "results", "meta") if f"{g}.{name}" in columns]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise UsageError(f"column {name!r} is ambiguous: {', '.join(candidates)}")
    short = {c.partition(".")[2]: c for c in columns if c.startswith(("params.", "results.", "meta."))}
    hint = did_you_mean(name, [*columns, *short])
    raise UsageError(f"unknown column {name!r}{hint}")


def check_experiments(table: pa.Table, names: Sequence[str]) -> None:
    """A usage error for an experiment no run belongs to, naming the ones that exist (did you mean ...?)."""
    if "experiment" not in table.column_names:
        known: list[str] = []
    else:
        known = sorted({e for e in table["experiment"].to_pylist() if e is not None})
    for name in names:
        if name not in known:
            raise unknown_name("experiment", name, known, where="-e: ")


# ---------------------------------------------------------------------- --where


class _WhereCompiler:
    _CMP = {
        ast.Eq: "equal",
        ast.NotEq: "not_equal",
        ast.Lt: "less",
        ast.LtE: "less_equal",
        ast.Gt: "greater",
        ast.GtE: "greater_equal",
    }

    def __init__(
        self, columns: Sequence[str], quoted: dict[str, str], kinds: dict[str, str] | None = None
    ) -> None:
        self.columns = columns
        self.quoted = quoted
        self.kinds = kinds or {}

    def name(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return self.quoted.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.name(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def literal(self, node: ast.expr) -> Any:
        try:
            return ast.literal_eval(node)
        except ValueError:
            raise UsageError(f"--where: expected a column or a literal, got {ast.unparse(node)!r}") from None

    def operand(self, node: ast.expr, other: ast.expr | None = None) -> Any:
        import pyarrow.compute as pc

        name = self.name(node)
        if name is not None and not (isinstance(node, ast.Name) and node.id in ("True", "False", "None")):
            try:
                return pc.field(resolve_column(name, self.columns))
            except UsageError:
                other_name = self.name(other) if other is not None else None
                if isinstance(node, ast.Name) and other_name is not None and self._is_column(other_name):
                    raise UsageError(
                        f"--where: {name!r} is not a column; to compare with the text, quote it: "
                        f"{ast.unparse(other)} == '{name}'"
                    ) from None
                raise
        return self.literal(node)

    def _is_column(self, name: str) -> bool:
        try:
            resolve_column(name, self.columns)
        except UsageError:
            return False
        return True

    def _kind_of(self, node: ast.expr, value: Any) -> tuple[str, str] | None:
        """(description, kind) of an operand: a column's type from the table, or a literal's."""
        import pyarrow.compute as pc

        if isinstance(value, pc.Expression):
            column = resolve_column(self.name(node) or "", self.columns)
            kind = self.kinds.get(column)
            return (column, kind) if kind else None
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, (int, float)):
            return (repr(value), "number")
        if isinstance(value, str):
            return (repr(value), "text")
        return None

    def compile(self, node: ast.expr) -> pc.Expression:
        import pyarrow.compute as pc

        if isinstance(node, ast.BoolOp):
            parts = [self.compile(v) for v in node.values]
            out = parts[0]
            for part in parts[1:]:
                out = (out & part) if isinstance(node.op, ast.And) else (out | part)
            return out
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.compile(node.operand)
        if isinstance(node, ast.Compare):
            out = None
            left = node.left
            for op, right in zip(node.ops, node.comparators):
                part = self.compare(left, op, right)
                out = part if out is None else (out & part)
                left = right
            assert out is not None
            return out
        name = self.name(node)
        if name is not None:  # a bare boolean column
            return pc.field(resolve_column(name, self.columns)) == True  # noqa: E712
        raise UsageError(f"--where: cannot understand {ast.unparse(node)!r}")

    def compare(self, left_node: ast.expr, op: ast.cmpop, right_node: ast.expr) -> pc.Expression:
        import pyarrow.compute as pc

        left, right = self.operand(left_node, right_node), self.operand(right_node, left_node)
        for node, value in ((left_node, left), (right_node, right)):
            if not isinstance(value, (pc.Expression, str, bool, int, float, list, tuple, set)) and value is not None:
                raise UsageError(
                    f"--where: cannot compare with {ast.unparse(node)}: use a number, a quoted text or a list"
                )
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
                raise UsageError(f"--where: {value} is too large a number to compare with")
        if not isinstance(op, (ast.In, ast.NotIn)):
            kinds = [self._kind_of(n, v) for n, v in ((left_node, left), (right_node, right))]
            if all(kinds) and kinds[0][1] != kinds[1][1]:  # type: ignore[index]
                (a, ka), (b, kb) = kinds  # type: ignore[misc]
                raise UsageError(
                    f"--where: cannot compare {a} ({ka}) with {b} ({kb})"
                    + (f"; quote the value to compare as text: '{b}'" if ka == "text" and kb == "number" else "")
                )
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, (list, tuple, set)):
                raise UsageError("--where: 'in' needs a list, e.g. params.optim in ['adam', 'sgd']")
            import pyarrow as pa

            try:
                expr = left.isin(list(right))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
                raise UsageError(
                    f"--where: the list {ast.unparse(right_node)} mixes kinds; use all numbers or all quoted texts"
                ) from None
            return ~expr if isinstance(op, ast.NotIn) else expr
        if isinstance(op, (ast.Is, ast.IsNot)) or right is None or left is None:
            target = left if right is None else right
            if not isinstance(target, pc.Expression):
                raise UsageError("--where: compare a column with None")
            expr = target.is_null()
            return ~expr if isinstance(op, (ast.IsNot, ast.NotEq)) else expr
        fn = self._CMP.get(type(op))
        if fn is None:
            raise UsageError(
                f"--where: unsupported operator in {ast.unparse(left_node)} ... {ast.unparse(right_node)}"
            )
        return getattr(pc, fn)(left, right)


def column_kinds(schema: pa.Schema) -> dict[str, str]:
    """number / text / bool / time per column, for ``--where`` messages that explain a type mismatch."""
    import pyarrow.types as pat

    kinds = {}
    for field in schema:
        if pat.is_integer(field.type) or pat.is_floating(field.type):
            kinds[field.name] = "number"
        elif pat.is_string(field.type) or pat.is_large_string(field.type):
            kinds[field.name] = "text"
        elif pat.is_boolean(field.type):
            kinds[field.name] = "bool"
        elif pat.is_timestamp(field.type):
            kinds[field.name] = "time"
    return kinds


def where_expression(text: str, columns: Sequence[str], kinds: dict[str, str] | None = None) -> pc.Expression:
    """Compile a ``--where`` string into a pyarrow expression over ``columns``."""
    quoted: dict[str, str] = {}

    def quote(match: re.Match[str]) -> str:
        key = f"__q{len(quoted)}"
        quoted[key] = match.group(1)
        return key

    source = re.sub(r"`([^`]*)`", quote, text.strip())
    source = re.sub(r"(?<![=!<>])=(?!=)", "==", source)  # accept a single '=' as equality
    source = re.sub(r"\b(AND|OR|NOT)\b", lambda m: m.group(1).lower(), source)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise UsageError(f"--where: invalid expression {text!r}: {error.msg}") from None
    return _WhereCompiler(columns, quoted, kinds).compile(tree.body)


# ---------------------------------------------------------------------- selection


def since_filter(store: Store, table: pa.Table, rev: str) -> pa.Table:
    """Runs whose commit is ``rev`` or descends from it (hypero's "versions v1 and above")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    base = store.repo.resolve(rev)
    if base is None:
        raise UsageError(f"--since {rev!r}: not a commit, branch or tag")
    commits = sorted({c for c in table["commit"].to_pylist() if c and store.repo.has_object(c)})
    if not commits:
        return table.slice(0, 0)
    out = store.repo.run(["rev-list", "--ancestry-path", f"^{base}", *commits], check=False).stdout.decode()
    keep = set(out.split()) | {base}
    return table.filter(pc.is_in(table["commit"], value_set=pa.array(sorted(keep))))



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
        names = [experiment] if isinstance(experiment, str) else list(experiment)
        conditions.append(pc.field("experiment").isin(names))
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
    table = store.table(show="archived" if archived else "visible")
    if tag or note is not None:
        from gitxp.store.lifecycle import filter_table

        table = filter_table(table, [tag] if isinstance(tag, str) else list(tag or ()), note)
    if since:
        table = since_filter(store, table, since)
    if experiment and table.num_rows:
        check_experiments(table, [experiment] if isinstance(experiment, str) else experiment)
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
