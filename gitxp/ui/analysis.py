"""The dashboard's analysis views: per-step curves, a sweep's trials and importance, comparison of two groups.

A mixin of :class:`gitxp.ui.api.Dashboard`: it reads the store through ``self.store`` and the cached run table
through ``self.table()``. Statistics come from ``gitxp.compare`` and importance from ``gitxp.search.importance``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gitxp.errors import GitxpWarning, StoreError, UsageError
from gitxp.ui.values import BadRequest, _clean, downsample, int_param, json_value

if TYPE_CHECKING:
    import pyarrow as pa

    from gitxp.store import Store

__all__ = ["AnalysisViews"]


class AnalysisViews:
    """Curves, sweep and compare views (see :class:`gitxp.ui.api.Dashboard` for ``store`` and ``table``)."""

    store: Store

    if TYPE_CHECKING:

        def table(self) -> pa.Table: ...

    def curves(self, query: Mapping[str, str]) -> dict[str, Any]:
        """Per-step metrics of ``runs`` (comma-separated ids): one series per run and metric, down-sampled to
        ``width`` buckets; ``after=N`` returns only the points with step > N (live polling)."""
        ids = [r for r in (query.get("runs") or "").split(",") if r.strip()]
        if not ids:
            raise BadRequest("runs: give one or more run ids")
        if len(ids) > 50:
            raise BadRequest("runs: at most 50 runs at a time")
        width = int_param(query, "width", 1000, 10, 20000)
        after = int_param(query, "after", -1, -1, 10**12)
        wanted = {m for m in (query.get("metrics") or "").split(",") if m}
        table = self.table()
        out = []
        names: set[str] = set()
        for prefix in ids:
            rid = self.store.resolve_run(prefix, table)
            try:
                metrics = self.store.metrics(rid)
            except StoreError as error:  # one damaged run: the others' curves are still drawn
                import warnings

                warnings.warn(f"gitxp: {error}", GitxpWarning, stacklevel=2)
                continue
            if not metrics.num_rows:
                continue
            by_name: dict[str, list[tuple[int, float, float | None]]] = {}
            for step, name, value, when in zip(
                metrics["step"].to_pylist(),
                metrics["name"].to_pylist(),
                metrics["value"].to_pylist(),
                metrics["time"].to_pylist(),
            ):
                names.add(name)
                if (wanted and name not in wanted) or step is None or step <= after:
                    continue
                by_name.setdefault(name, []).append((step, value, when))
            for name, points in sorted(by_name.items()):
                points.sort(key=lambda p: p[0])
                steps, values = downsample([float(p[0]) for p in points], [p[1] for p in points], width)
                index = {p[0]: p[2] for p in points}
                times = [index.get(int(s)) for s in steps]
                out.append(
                    {
                        "run": rid,
                        "metric": name,
                        "steps": steps,
                        "values": [json_value(v) for v in values],
                        "times": times,
                        "points": len(points),
                        "last_step": points[-1][0],
                    }
                )
        return {"series": out, "metrics": sorted(names)}

    # ------------------------------------------------------------------ sweep and compare

    def sweep(self, query: Mapping[str, str]) -> dict[str, Any]:
        """An experiment's trials in start order: params, objective value, best so far; importance when
        ``gitxp.search.importance`` can compute it."""
        import pyarrow.compute as pc

        from gitxp import objective
        from gitxp.query import check_experiments

        experiment = query.get("experiment") or ""
        table = self.table()
        check_experiments(table, [experiment])
        runs = table.filter(pc.equal(table["experiment"], experiment))
        runs = runs.take(pc.sort_indices(runs, sort_keys=[("started", "ascending")]))
        results = sorted(
            c[8:]
            for c in runs.column_names
            if c.startswith("results.") and runs[c].null_count < runs.num_rows
        )
        metric = query.get("metric") or ""
        if not metric:
            recorded = (
                [m for m in runs["meta.metric"].to_pylist() if m]
                if "meta.metric" in runs.column_names
                else []
            )
            metric = recorded[0].split(",")[0] if recorded else (f"{results[0]}:max" if results else "")
        if not metric:
            return {"experiment": experiment, "metric": None, "trials": [], "params": [], "results": results}
        name, goal = objective.parse(metric)
        column = objective.column(name, goal, runs.column_names)
        if column is None:
            raise BadRequest(
                f"metric {name!r}: no run of {experiment!r} reports it (results: {', '.join(results)})"
            )
        params = [
            c for c in runs.column_names if c.startswith("params.") and runs[c].null_count < runs.num_rows
        ]
        trials = []
        best: float | None = None
        for i, row in enumerate(runs.to_pylist()):
            value = row.get(column)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if ok and (best is None or (value < best if goal == "min" else value > best)):
                best = float(value)
            trials.append(
                {
                    "trial": i,
                    "run_id": row["run_id"],
                    "status": row.get("status"),
                    "value": float(value) if ok else None,
                    "best": best,
                    "params": {p[7:]: json_value(row.get(p)) for p in params},
                }
            )
        return {
            "experiment": experiment,
            "metric": name,
            "goal": goal,
            "trials": trials,
            "params": [p[7:] for p in params],
            "results": results,
            "importance": self._importance(experiment, name, goal),
        }

    def _importance(self, experiment: str, name: str, goal: str) -> dict[str, Any]:
        try:
            from gitxp.search.history import load_history
            from gitxp.search.importance import importances
        except ImportError as error:
            return {"error": f"param importance is not available: {error}"}
        try:
            history = load_history(self.store, experiment, [], [(name, goal)])
            return {"values": importances(history, evaluator="fanova")}
        except Exception as error:  # noqa: BLE001 - shown in the panel, the rest of the page keeps working
            return {"error": str(error)}

    def compare(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``gitxp compare A B``: the same statistics (gitxp.compare) plus the code diff between the two."""
        from gitxp.compare import by_experiment, code_diff, compare_groups, resolve_groups

        a, b = (query.get("a") or "").strip(), (query.get("b") or "").strip()
        if not a or not b:
            raise BadRequest("compare needs a= and b= (run ids, versions, branches or commits)")
        metric = query.get("metric") or None
        groups = resolve_groups(self.store, self.table(), [a, b])
        blocks = [(name, parts) for name, parts in by_experiment(groups) if len(parts) == len(groups)]
        reports = [{"experiment": name, **_clean(compare_groups(parts, metric))} for name, parts in blocks]
        try:
            diff = code_diff(self.store, groups[0], groups[1], full=True)
        except UsageError as error:
            diff = f"(no code diff: {error})"
        groups_info = [
            {
                "label": g.label,
                "kind": g.kind,
                "runs": g.table.num_rows,
                "versions": sorted(set(g.table["version"].to_pylist())),
            }
            for g in groups
        ]
        return {"groups": groups_info, "reports": reports, "diff": diff}
