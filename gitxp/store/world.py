"""What differs outside the code between the sides of a comparison: package environments (gitxp.store.envs)
and declared input data (gitxp.store.inputs). Used by ``gitxp compare`` and the dashboard's compare page."""

from __future__ import annotations

from typing import Any

__all__ = ["world_differences"]


def world_differences(store: Any, groups: list[Any]) -> dict[str, Any]:
    """What differs outside the code between the first side and each other: packages (``environment``) and
    declared input data (``inputs``). Keys are present only when something differs or a side's record is
    missing."""
    from gitxp.store import envs, inputs

    def column(group: Any, name: str) -> list[Any]:
        table = group.table
        return table[name].to_pylist() if name in table.column_names else []

    environment, data = [], []
    first = groups[0]
    a_digest, a_env, a_count = envs.of_side(store, column(first, "meta.environment"))
    a_inputs = inputs.of_side(column(first, "meta.inputs"))
    for other in groups[1:]:
        b_digest, b_env, b_count = envs.of_side(store, column(other, "meta.environment"))
        notes = [
            f"{g.label} holds {n} environments (the most common one is compared)"
            for g, n in ((first, a_count), (other, b_count))
            if n > 1
        ]
        if a_digest != b_digest and a_env is not None and b_env is not None:
            rows = envs.diff(a_env, b_env)
            if rows:
                environment.append({"a": first.label, "b": other.label, "packages": rows, "notes": notes})
        elif (a_digest is None) != (b_digest is None):
            missing = first.label if a_digest is None else other.label
            note = f"{missing}: no environment recorded"
            environment.append({"a": first.label, "b": other.label, "packages": [], "notes": [note]})
        rows = inputs.side_diff(a_inputs, inputs.of_side(column(other, "meta.inputs")))
        if rows:
            data.append({"a": first.label, "b": other.label, "inputs": rows})
    out: dict[str, Any] = {}
    if environment:
        out["environment"] = environment
    if data:
        out["inputs"] = data
    return out
