"""What a wrapped command recorded through the gitxp API, folded into the wrapper's run.

Under ``gitxp run``, the command's own ``gitxp.start()``/``@gitxp.experiment`` writes to a side directory of the
wrapper's staging (``<run>/attached/<pid>-<id>/``: its params, results, meta and curves). When the command ends,
the wrapper folds it in; when the wrapper itself died (kill -9), crash recovery folds it in the same way, so that
nothing the script recorded is lost.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["WRAPPER_META", "fold"]

# meta that belongs to the wrapper's process, not the command's
WRAPPER_META = {
    "pid",
    "argv",
    "cwd",
    "metric",
    "command",
    "output_dir",
    "exit_code",
    "workdir",
    "command.template",
    "command.shell",
    "command.config",
    "command.parse",
    "rerun_of",
    "rerun.overrides",
}


def fold(
    record: dict[str, Any],
    folder: Path,
    *,
    experiment_given: bool,
    remove: bool = True,
    quarantine: Callable[[Path, str], None] | None = None,
) -> list[pa.Table]:
    """Merge the attached records under ``folder`` (``<staging>/<run>/attached``) into ``record`` in place and
    return their curves; the attached directories are removed afterwards unless ``remove`` is False. A damaged
    attached record is handed to ``quarantine(path, why)`` (moved aside, as a damaged run of the staging area is)
    and the rest is folded; without ``quarantine`` it is left where it is, with a warning."""
    from gitxp.store.staging import CorruptRecord, StagedRun

    tables: list[pa.Table] = []
    if not folder.is_dir():
        return tables
    for child in sorted(folder.iterdir()):
        staged = StagedRun(child)
        try:
            attached = staged.read_record()
        except CorruptRecord as error:
            if quarantine is not None:
                quarantine(child, f"a damaged record attached to run {record.get('run_id')}: {error}")
            else:
                import warnings

                from gitxp.errors import GitxpWarning

                warnings.warn(f"gitxp: skipping {child}: {error}", GitxpWarning, stacklevel=2)
            continue
        if not child.is_dir():
            continue
        if attached is not None:
            if attached.get("experiment_given") and not experiment_given:
                # the script names its experiment (@gitxp.experiment(name=...)) and gitxp run -e did not
                record["experiment"] = attached["experiment"]
            record.setdefault("params", {}).update(attached.get("params") or {})
            record.setdefault("results", {}).update(attached.get("results") or {})
            meta = {k: v for k, v in (attached.get("meta") or {}).items() if k not in WRAPPER_META}
            if meta.get("inputs") and (record.get("meta") or {}).get("inputs"):
                from gitxp.store.inputs import merge as merge_input
                from gitxp.store.inputs import parse_lines

                merged = list(record["meta"]["inputs"])
                for item in parse_lines(meta["inputs"]):  # inputs declared on both sides: the union
                    merged = merge_input(merged, item)
                meta["inputs"] = merged
            record.setdefault("meta", {}).update(meta)
            objective = (attached.get("meta") or {}).get("metric")
            if objective and not record["meta"].get("metric"):  # the script's @gitxp.experiment(metric=...)
                record["meta"]["metric"] = objective
        table = staged.metrics_table()
        if table is not None:
            tables.append(table)
        if remove:
            shutil.rmtree(child, ignore_errors=True)
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
    return tables
