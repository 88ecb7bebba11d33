"""The dashboard's analysis views: per-step curves, a sweep's trials and importance, comparison of two groups.

A mixin of :class:`gitxp.ui.api.Dashboard`: it reads the store through ``self.store`` and the cached run table
through ``self.table()``. Statistics come from ``gitxp.compare`` and importance from ``gitxp.search.importance``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gitxp.errors import GitxpWarning, StoreError, UsageError
from gitxp.ui.values import BadRequest, curve_labels, downsample, int_param, json_clean, json_value

if TYPE_CHECKING:
    import pyarrow as pa

    from gitxp.store import Store
    from gitxp.ui.background import ImportanceJobs

__all__ = ["AnalysisViews"]


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _param_info(runs: pa.Table, params: list[str]) -> dict[str, dict[str, Any]]:
    """Per param: how many runs lack it (a conditional param) and whether its axis is logarithmic.

    Log: the sweep sampled it log-uniform or over a log grid (``--sample lr=loguniform(...)``, ``--grid
    lr=1e-5:l5:0.1``, as its ``meta.sweep.invocation`` says), else its values are all positive and span at least
    two decades (a define-by-run ``run.log_uniform``, or runs typed by hand)."""
    import json

    import pyarrow as pa
    import pyarrow.compute as pc

    sampled_log: set[str] = set()
    if "meta.sweep.invocation" in runs.column_names:
        for text in set(runs["meta.sweep.invocation"].drop_null().to_pylist()):
            try:
                args = json.loads(text)
            except (TypeError, ValueError):
                continue
            for flag, spec in zip(args, args[1:]):
                if flag in ("--sample", "--grid") and isinstance(spec, str) and "=" in spec:
                    key, _, dist = spec.partition("=")
                    dist = dist.replace(" ", "").lower()
                    if dist.startswith(("loguniform(", "log_uniform(", "log(")) or ":l" in dist:
                        sampled_log.add(key)
    info: dict[str, dict[str, Any]] = {}
    for column in params:
        key = column[7:]
        values = runs[column]
        entry: dict[str, Any] = {"missing": values.null_count, "log": False, "numeric": False}
        if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
            entry["numeric"] = True
            low, high = pc.min_max(values).values()
            low, high = low.as_py(), high.as_py()
            if key in sampled_log:
                entry.update(log=True, why="sampled on a log scale")
            elif low is not None and low > 0 and high / low >= 100:
                entry.update(log=True, why=f"values span {math.log10(high / low):.1f} decades")
        info[key] = entry
    return info


def _pareto(trials: list[dict[str, Any]], objectives: list[tuple[str, str]]) -> dict[str, Any]:
    """The finished trials no other finished trial beats on both objectives."""
    from gitxp.query.objective import pareto_front

    points = [
        (t["run_id"], (t["value"], t["value2"]))
        for t in trials
        if t["status"] == "finished" and t["value"] is not None and t.get("value2") is not None
    ]
    front = pareto_front(points, [goal for _, goal in objectives])
    return {
        "objectives": [{"name": n, "goal": g} for n, g in objectives],
        "front": front,
        "runs": len(points),
    }


class AnalysisViews:
    """Curves, sweep and compare views (see :class:`gitxp.ui.api.Dashboard` for ``store`` and ``table``)."""

    store: Store

    if TYPE_CHECKING:

        def table(self) -> pa.Table: ...

    def stop_background(self) -> None:
        """Stop the background computations now (the server stops)."""
        jobs = getattr(self, "_importance_jobs", None)
        if jobs is not None:
            jobs.stop_all()

    @property
    def importance_jobs(self) -> ImportanceJobs:
        """The background computations of this dashboard (created on first use)."""
        jobs = getattr(self, "_importance_jobs", None)
        if jobs is None:
            from gitxp.ui.background import ImportanceJobs

            jobs = self._importance_jobs = ImportanceJobs(self.store)
        return jobs

    def curves(self, query: Mapping[str, str]) -> dict[str, Any]:
        """Per-step metrics of ``runs`` (comma-separated ids): one series per run and metric, down-sampled to
        ``width`` buckets; ``after=N`` returns only the points with step > N (live polling)."""
        import pyarrow.compute as pc

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
        import pyarrow as pa

        resolved = [str(r) for r in dict.fromkeys(s["run"] for s in out)]
        rows = table.filter(pc.is_in(table["run_id"], value_set=pa.array(resolved, pa.string()))).to_pylist()
        short = dict(zip(resolved, self.store.short_ids(resolved)))
        return {
            "series": out,
            "metrics": sorted(names),
            "labels": curve_labels(rows, short),
            "short_ids": short,
        }

    # ------------------------------------------------------------------ sweep and compare

    def sweep(self, query: Mapping[str, str]) -> dict[str, Any]:
        """An experiment's trials in start order: params, objective value, best so far; importance when
        ``gitxp.search.importance`` can compute it."""
        import pyarrow.compute as pc

        from gitxp.query import check_experiments, objective

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
        second = self._second_objective(query, runs, (name, goal))
        column2 = second[2] if second else None
        columns = ["run_id", "status", "version", column, *params, *([column2] if column2 else [])]
        trials = []
        best: float | None = None
        for i, row in enumerate(runs.select(list(dict.fromkeys(columns))).to_pylist()):
            value = _number(row.get(column))
            if value is not None and (best is None or (value < best if goal == "min" else value > best)):
                best = value
            trial = {
                "trial": i,
                "run_id": row["run_id"],
                "status": row.get("status"),
                "version": row.get("version"),
                "value": value,
                "best": best,
                "params": {p[7:]: json_value(row.get(p)) for p in params if row.get(p) is not None},
            }
            if column2:
                trial["value2"] = _number(row.get(column2))
            trials.append(trial)
        versions: dict[str, int] = {}
        for trial in trials:
            versions[trial["version"]] = versions.get(trial["version"], 0) + 1
        answer = {
            "experiment": experiment,
            "metric": name,
            "goal": goal,
            "trials": trials,
            "params": [p[7:] for p in params],
            "param_info": _param_info(runs, params),
            "versions": [{"version": v, "runs": n} for v, n in versions.items()],
            "results": results,
            "importance": self._importance(experiment, name, goal, wait=query.get("importance") == "wait"),
        }
        if second:
            answer["pareto"] = _pareto(trials, [(name, goal), (second[0], second[1])])
        return answer

    @staticmethod
    def _second_objective(
        query: Mapping[str, str], runs: pa.Table, first: tuple[str, str]
    ) -> tuple[str, str, str] | None:
        """The Pareto page's second objective: ``metric2=NAME:goal``, else the recorded ``--metric a,b``'s second."""
        from gitxp.query import objective

        text = query.get("metric2") or ""
        if not text and "meta.metric" in runs.column_names:
            recorded = [m for m in runs["meta.metric"].to_pylist() if m and "," in m]
            text = recorded[0].split(",")[1] if recorded else ""
        if not text.strip():
            return None
        name2, goal2 = objective.parse(text.strip())
        if goal2 not in ("min", "max"):
            raise BadRequest(f"metric2 {text!r}: a Pareto front needs :min or :max")
        column2 = objective.column(name2, goal2, runs.column_names)
        if column2 is None:
            raise BadRequest(f"metric2 {name2!r}: no run of this experiment reports it")
        if (name2, goal2) == first:
            raise BadRequest("metric2: the second objective must differ from the first")
        return name2, goal2, column2

    def importance(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``/api/importance?experiment=E&metric=NAME:GOAL``: the param importance of the sweep page, polled
        until it is ready (``{"pending": true}`` meanwhile); asking keeps its computation going."""
        from gitxp.query import check_experiments, objective

        experiment = query.get("experiment") or ""
        check_experiments(self.table(), [experiment])
        metric = query.get("metric") or ""
        if not metric:
            return self.sweep({"experiment": experiment})["importance"]  # the page's default objective
        name, goal = objective.parse(metric)
        return self._importance(experiment, name, goal)

    def _importance(self, experiment: str, name: str, goal: str, wait: bool = False) -> dict[str, Any]:
        """Cached, or computed in the background (gitxp.ui.background); ``wait`` (the static report): here."""
        try:
            if wait:
                from gitxp.search.importance import cached

                return cached(self.store, experiment, (name, goal)).to_json()
            return self.importance_jobs.status(experiment, (name, goal))
        except ImportError as error:
            return {"error": f"param importance is not available: {error}"}
        except Exception as error:  # noqa: BLE001 - shown in the panel, the rest of the page keeps working
            return {"error": str(error)}

    def compare_runs(self, query: Mapping[str, str]) -> dict[str, Any]:
        """Several runs side by side (``runs=a,b,c``, 2 to 20): their params, results and main facts, and which of
        those differ (MLflow's compare view; the page overlays their curves through ``curves``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        ids = [r.strip() for r in (query.get("runs") or "").split(",") if r.strip()]
        if len(ids) < 2:
            raise BadRequest("runs: give two or more run ids, comma-separated")
        if len(ids) > 20:
            raise BadRequest("runs: at most 20 runs at a time")
        table = self.table()
        resolved = list(dict.fromkeys(self.store.resolve_run(r, table) for r in ids))
        rows = {
            r["run_id"]: r for r in table.filter(pc.is_in(table["run_id"], pa.array(resolved))).to_pylist()
        }
        runs = [rows[r] for r in resolved]
        facts = ["experiment", "status", "version", "branch", "started", "duration"]
        keys = {
            group: sorted(
                {k for row in runs for k, v in row.items() if k.startswith(group + ".") and v is not None}
            )
            for group in ("params", "results")
        }
        differ = [
            k
            for k in [*facts, *keys["params"], *keys["results"]]
            if len({repr(json_value(row.get(k))) for row in runs}) > 1 and k not in ("started", "duration")
        ]
        return {
            "runs": [
                {
                    "run_id": row["run_id"],
                    **{k: json_value(row.get(k)) for k in facts},
                    "params": {k[7:]: json_value(row[k]) for k in keys["params"] if row.get(k) is not None},
                    "results": {k[8:]: json_value(row[k]) for k in keys["results"] if row.get(k) is not None},
                }
                for row in runs
            ],
            "params": [k[7:] for k in keys["params"]],
            "results": [k[8:] for k in keys["results"]],
            "differ": differ,
            "short_ids": dict(zip(resolved, self.store.short_ids(resolved))),
        }

    def compare(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``gitxp compare A B``: the same statistics (gitxp.compare) plus the code diff between the two."""
        from gitxp.compare import by_experiment, code_diff, compare_groups, resolve_groups, same_version

        a, b = (query.get("a") or "").strip(), (query.get("b") or "").strip()
        if not a or not b:
            raise BadRequest("compare needs a= and b= (run ids, versions, branches or commits)")
        metric = query.get("metric") or None
        flags = {k: (query.get(k) or "") in ("1", "true", "yes") for k in ("all_versions", "reruns")}
        groups = resolve_groups(self.store, self.table(), [a, b], **flags)
        blocks = [
            (name, parts)
            for name, parts in by_experiment(groups)
            if len(parts) == len(groups) and same_version(parts) is None
        ]
        reports = [
            {"experiment": name, **json_clean(_bounded(compare_groups(parts, metric)))}
            for name, parts in blocks
        ]
        try:
            diff = code_diff(self.store, groups[0], groups[1], full=True)
        except UsageError as error:
            diff = f"(no code diff: {error})"
        groups_info = [
            {
                "label": g.label,
                "kind": g.kind,
                "runs": g.table.num_rows,
                "versions": g.versions(),
                "left_out": g.left_out,
                "pooled": g.pooled,
                "excluded": g.excluded,
                "note": "; ".join(g.notes()),
                "notes": g.notes(),  # one line each on the page
            }
            for g in groups
        ]
        from gitxp.store.envs import format_change
        from gitxp.store.world import world_differences

        world = world_differences(self.store, groups)
        for item in world.get("environment", []):
            item["lines"] = [format_change(row) for row in item["packages"]]
        return {"groups": groups_info, "reports": reports, "diff": diff, **world}


SHOWN_VALUES = 12  # distinct values of a param listed per side on the compare page


def _bounded(report: dict[str, Any]) -> dict[str, Any]:
    """A compare report the page can show: the run ids of a side left out (its run count stays) and at most
    ``SHOWN_VALUES`` distinct values of a param per side, then how many there are (a sampled param of 25,000
    runs made the answer 7 MB)."""
    for group in report.get("groups", []):
        group.pop("run_ids", None)
    for param in report.get("params", []):
        for label, values in param["values"].items():
            if len(values) > SHOWN_VALUES:
                param["values"][label] = values[:SHOWN_VALUES] + [f"... ({len(values):,} distinct)"]
    return report
