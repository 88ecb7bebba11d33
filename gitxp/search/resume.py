"""Resuming a sweep: which of the points a strategy proposes were already run to the end.

``gitxp run --resume`` runs the same sweep again; every proposal whose params match a ``finished`` run of the same
experiment on the same version is skipped (once per matching run, so a point proposed twice is skipped only as
often as it finished). Failed, crashed, interrupted, cancelled and pruned points are not finished: they run again.
Grid points and seeded samples are proposed in the same order every time, so the sweep picks up where it stopped;
informed strategies already read the whole history from the store.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitxp.run import Run
    from gitxp.store import Store

__all__ = ["Finished", "point_key", "finished_points"]


def _plain(value: Any) -> Any:
    """One canonical form for a param value as proposed and as read back from Parquet (1 and 1.0 are equal)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def point_key(params: Mapping[str, Any], names: Sequence[str]) -> str:
    """The key of a point: its values for ``names`` (a missing param is None), in a stable text form."""
    return json.dumps([_plain(params.get(n)) for n in names], sort_keys=True)


class Finished:
    """The finished points of an experiment on one version, as a multiset; :meth:`take` consumes one match."""

    def __init__(self, keys: Counter[str], names: Sequence[str]) -> None:
        self.keys = keys
        self.names = list(names)
        self.skipped = 0
        self.runs: dict[
            str, list[tuple[str, dict[str, Any], float | None]]
        ] = {}  # key -> (id, params, value)
        self.taken: list[tuple[str, dict[str, Any], float | None]] = []

    @classmethod
    def load(
        cls,
        store: Store,
        experiment: str,
        version: str | None,
        names: Sequence[str],
        metric: tuple[str, str] | None = None,
    ) -> Finished:
        import pyarrow.compute as pc

        from gitxp.query import objective

        table = store.table()
        keys: Counter[str] = Counter()
        if not table.num_rows or "status" not in table.column_names:
            return cls(keys, names)
        mask = pc.and_(pc.equal(table["experiment"], experiment), pc.equal(table["status"], "finished"))
        if version is not None and "version" in table.column_names:
            mask = pc.and_(mask, pc.equal(table["version"], version))
        table = table.filter(pc.fill_null(mask, False))
        columns = set(table.column_names)
        for flag in ("meta.archived", "meta.removed"):
            if flag in columns:  # archived or removed runs do not count as done
                table = table.filter(pc.invert(pc.fill_null(pc.equal(table[flag], True), False)))
        wanted = ["run_id"] + [f"params.{n}" for n in names if f"params.{n}" in columns]
        found = objective.column(metric[0], metric[1], table.column_names) if metric else None
        if found:
            wanted.append(found)
        finished = cls(keys, names)
        if "started" in columns:
            table = table.take(
                pc.sort_indices(table, sort_keys=[("started", "ascending"), ("run_id", "ascending")])
            )
        for row in table.select(wanted).to_pylist():
            params = {
                k[len("params.") :]: v for k, v in row.items() if k.startswith("params.") and v is not None
            }
            key = point_key(params, names)
            keys[key] += 1
            value = row.get(found) if found else None
            number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            finished.runs.setdefault(key, []).append((row["run_id"], params, number))
        return finished

    def take(self, params: Mapping[str, Any]) -> bool:
        """True (and one match used up) when ``params`` already finished."""
        key = point_key(params, self.names)
        if self.keys[key] <= 0:
            return False
        self.keys[key] -= 1
        self.skipped += 1
        earlier = self.runs.get(key) or []
        if earlier:
            self.taken.append(earlier.pop(0))
        return True

    @property
    def total(self) -> int:
        return sum(self.keys.values()) + self.skipped


INVOCATION_KEY = (
    "sweep.invocation"  # meta key: the `gitxp run` arguments of the sweep (secrets masked), as JSON
)


def last_invocation(store: Store, experiment: str) -> tuple[list[str], str]:
    """The ``gitxp run`` arguments of the latest sweep of ``experiment`` and the id of one of its runs (to fill
    masked secrets back in); a usage error (with "did you mean") when there is none."""
    import pyarrow.compute as pc

    from gitxp.errors import UsageError, unknown_name

    table = store.table()
    experiments = sorted({e for e in table["experiment"].to_pylist() if e}) if table.num_rows else []
    if experiment not in experiments:
        raise unknown_name("experiment", experiment, experiments)
    column = f"meta.{INVOCATION_KEY}"
    if column not in table.column_names:
        raise UsageError(
            f"experiment {experiment!r} has no sweep recorded with its command line; "
            "run the same gitxp run command again with --resume"
        )
    table = table.filter(pc.fill_null(pc.equal(table["experiment"], experiment), False))
    table = table.filter(pc.is_valid(table[column]))
    if not table.num_rows:
        raise UsageError(
            f"experiment {experiment!r} has no sweep recorded with its command line; "
            "run the same gitxp run command again with --resume"
        )
    keys = [("started", "descending"), ("run_id", "descending")] if "started" in table.column_names else []
    if keys:
        table = table.take(pc.sort_indices(table, sort_keys=keys))
    row = table.slice(0, 1).select(["run_id", column]).to_pylist()[0]
    argv = json.loads(row[column])
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise UsageError(f"experiment {experiment!r}: the recorded sweep command line is not readable")
    return argv, row["run_id"]


RESUMABLE = ("crashed", "failed", "interrupted", "cancelled")


def check_resumable(run: Mapping[str, Any]) -> None:
    """A usage error unless ``run`` (a row of the store) ended without finishing."""
    from gitxp.errors import UsageError

    status = run.get("status")
    if status in RESUMABLE:
        return
    if status == "running":
        raise UsageError(f"run {run['run_id']} is still running: nothing to resume yet")
    raise UsageError(
        f"run {run['run_id']} is {status}: --resume continues a crashed, failed, interrupted or cancelled run "
        f"(gitxp rerun {run['run_id']} runs it again from the start)"
    )


def resume_dir(store: Store, run: Mapping[str, Any]) -> str:
    """The earlier run's output dir (its checkpoints), handed to the new run as ``GITXP_RESUME_DIR``."""
    recorded = run.get("meta.output_dir")
    if isinstance(recorded, str) and recorded:
        return recorded
    return str(store.root / "outputs" / str(run["run_id"]))


def carry_curves(store: Store, run_id: str, new: Run) -> int | None:
    """Copy the curves of ``run_id`` into the run ``new`` (steps and times as recorded); returns the last
    recorded step (None without curves). The new run's own ``log()`` continues after it."""
    table = store.metrics(run_id)
    if not table.num_rows:
        return None
    steps = table["step"].to_pylist()
    times = table["time"].to_pylist() if "time" in table.column_names else [None] * len(steps)
    return new.carry_points(steps, table["name"].to_pylist(), table["value"].to_pylist(), times)


def finished_points(sweep: Any, strategy: Any) -> Finished | None:
    """With ``sweep.resume``: the points that already finished on the sweep's version (uninformed strategies only:
    informed ones read the whole history anyway and would propose around it)."""
    if not sweep.resume or sweep.strategy not in ("grid", "random") or hasattr(strategy, "pending_trial"):
        return None
    return Finished.load(
        sweep.store, sweep.experiment_name, sweep.version.id, sweep.space.names, sweep.metric
    )
