"""``--where`` filters: a Python-like expression compiled to a pyarrow compute expression over the run table.

``results.valid_acc > 0.9 and params.optim == "adam"``; a name may drop its group prefix when unambiguous
(``valid_acc > 0.9``) and may be quoted with backticks when it holds spaces (```params.batch size` >= 64``).
Used by ``gitxp.query.select`` (``ls``/``export``/``show``, the dashboard).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

__all__ = ["column_kinds", "resolve_column", "where_expression"]


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
                if isinstance(node, ast.Name) and other is not None and other_name is not None:
                    if self._is_column(other_name):
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
            if (
                not isinstance(value, (pc.Expression, str, bool, int, float, list, tuple, set))
                and value is not None
            ):
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
                    + (
                        f"; quote the value to compare as text: '{b}'"
                        if ka == "text" and kb == "number"
                        else ""
                    )
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
        if not isinstance(left, pc.Expression) and not isinstance(right, pc.Expression):
            raise UsageError(
                f"--where: {ast.unparse(left_node)} ... {ast.unparse(right_node)} compares no column with anything"
            )
        # a literal on the left (1 < params.lr < 5) is an expression too
        left, right = (v if isinstance(v, pc.Expression) else pc.scalar(v) for v in (left, right))
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
    shown = text if len(text) <= 200 else text[:200] + "..."
    try:
        tree = ast.parse(source, mode="eval")
        return _WhereCompiler(columns, quoted, kinds).compile(tree.body)
    except SyntaxError as error:
        raise UsageError(f"--where: invalid expression {shown!r}: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise UsageError(f"--where: the expression {shown!r} is nested too deeply") from None
