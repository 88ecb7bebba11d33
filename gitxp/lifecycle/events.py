"""Life-cycle events on the ref, and their folding into each run's tags, note, archived and removed state.

Every ``gitxp tag``/``note``/``archive``/``rm`` (and their undo) appends one file to the store's ref::

    events/<clone>/<time, 16 hex digits>-<nonce>.json
    {"format": 1, "clone": "<clone>", "time": <microseconds>, "ops": [["<run id>", "<field>", <value>], ...]}

``<clone>`` is a random id kept in ``.git/gitxp/clone-id`` (a ``git clone`` gets a new one), so two clones never
write the same path and two stores merge as a plain union of files (``Store.merge``). Files are never changed or
deleted. Fields: ``tag:<name>`` (true: added, false: removed), ``note`` (text, or null to clear), ``archived``
(bool), ``removed`` (the time of removal, or null for ``rm --undo``).

Reading folds every file: per (run, field) the op with the greatest ``(time, clone, file, index)`` wins
(last-writer-wins). ``time`` is a hybrid clock: a writer stamps ``max(now, newest time it has seen + 1)``, so an
op made after reading another clone's op (after a pull) always wins over it, whatever the two clocks say, and
concurrent ops on different fields or different tags never conflict. The fold is cached in
``.git/gitxp/cache/lifecycle.json`` by the ref's commit and updated incrementally from the files added since.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import GitxpWarning
from gitxp.ids import is_run_id

if TYPE_CHECKING:
    import pyarrow as pa

    from gitxp.repo import Repo

__all__ = ["State", "load_state", "event_file", "clone_id", "overlay", "SHOW", "FORMAT"]

FORMAT = 1
CACHE_FORMAT = 1
SHOW = ("visible", "archived", "all")
_PATH = re.compile(r"events/([0-9a-f]{16})/([0-9a-f]{16})-([0-9a-f]{8})\.json")
_TAG = re.compile(r"[^\s,]{1,100}")


def valid_tag(name: str) -> bool:
    """A tag is one word without commas or spaces (they separate tags in listings), at most 100 characters."""
    return bool(_TAG.fullmatch(name))


def clone_id(root: Path) -> str:
    """This clone's id (16 hex digits in ``<root>/clone-id``), created on first use."""
    path = root / "clone-id"
    for _attempt in range(50):
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            root.mkdir(parents=True, exist_ok=True)
            new = secrets.token_hex(8)
            tmp = path.with_name(f".clone-id.{os.getpid()}.{new}")
            tmp.write_text(new + "\n")
            try:
                os.link(tmp, path)  # atomic: exactly one concurrent writer creates it
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
            continue
        if re.fullmatch(r"[0-9a-f]{16}", text):
            return text
        raise OSError(f"{path} is damaged (expected 16 hex digits); delete it and try again")
    raise OSError(f"could not create {path}")


def event_file(clone: str, stamp: int, ops: list[tuple[str, str, Any]]) -> tuple[str, bytes]:
    """The path and content of one batch of ops."""
    body = {"format": FORMAT, "clone": clone, "time": stamp, "ops": [list(op) for op in ops]}
    path = f"events/{clone}/{stamp:016x}-{secrets.token_hex(4)}.json"
    return path, (json.dumps(body, sort_keys=True) + "\n").encode()


def now_us() -> int:
    return time.time_ns() // 1000


def _valid_op(op: Any) -> bool:
    if not (isinstance(op, list) and len(op) == 3 and isinstance(op[0], str) and is_run_id(op[0])):
        return False
    name, value = op[1], op[2]
    if name == "note":
        return value is None or isinstance(value, str)
    if name == "archived":
        return isinstance(value, bool)
    if name == "removed":
        return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
    if isinstance(name, str) and name.startswith("tag:"):
        return valid_tag(name[4:]) and isinstance(value, bool)
    return False


@dataclass
class State:
    """The folded life-cycle state of every run an event names."""

    fields: dict[str, dict[str, list[Any]]] = field(default_factory=dict)  # run -> field -> [key, value]
    clock: int = 0  # the newest event time seen

    def apply(self, path: str, data: bytes) -> None:
        """Fold one event file (a damaged one is skipped with a warning: it can never block reading)."""
        match = _PATH.fullmatch(path)
        try:
            body = json.loads(data)
            if not match or not isinstance(body, dict) or not isinstance(body.get("ops"), list):
                raise ValueError("not a gitxp event file")
            stamp = body.get("time")
            if not isinstance(stamp, int) or isinstance(stamp, bool):
                raise ValueError("its time is not a number")
        except (ValueError, UnicodeDecodeError) as error:
            warnings.warn(
                f"gitxp: skipping the damaged event file {path}: {error}", GitxpWarning, stacklevel=3
            )
            return
        self.clock = max(self.clock, stamp)
        for index, op in enumerate(body["ops"]):
            if not _valid_op(op):
                continue  # an op a newer gitxp wrote, or garbage: ignored, the others still count
            run, name, value = op
            key = [stamp, match.group(1), path, index]
            slot = self.fields.setdefault(run, {})
            if name not in slot or slot[name][0] < key:
                slot[name] = [key, value]

    def value(self, run: str, name: str, default: Any = None) -> Any:
        slot = self.fields.get(run, {}).get(name)
        return default if slot is None else slot[1]

    def tags(self, run: str) -> list[str]:
        return sorted(
            k[4:] for k, (_key, v) in self.fields.get(run, {}).items() if k.startswith("tag:") and v
        )

    def removed(self) -> dict[str, float]:
        """Removed runs and when (seconds since the epoch)."""
        return {r: float(f["removed"][1]) for r, f in self.fields.items() if f.get("removed", [0, None])[1]}

    def archived(self) -> set[str]:
        return {r for r, f in self.fields.items() if f.get("archived", [0, False])[1]}


def _from_cache(data: Any) -> tuple[str, State] | None:
    if (
        not isinstance(data, dict)
        or data.get("format") != CACHE_FORMAT
        or not isinstance(data.get("ref"), str)
    ):
        return None
    fields, clock = data.get("fields"), data.get("clock")
    if not isinstance(fields, dict) or not isinstance(clock, int):
        return None
    return data["ref"], State(fields=fields, clock=clock)


def load_state(repo: Repo, head: str | None, cache_dir: Path) -> State:
    """The fold of every event file in commit ``head`` (cached by commit, updated incrementally)."""
    if head is None:
        return State()
    cache = cache_dir / "lifecycle.json"
    cached = None
    try:
        cached = _from_cache(json.loads(cache.read_text()))
    except (OSError, ValueError):
        pass
    if cached is not None and cached[0] == head:
        return cached[1]
    if cached is not None and repo.has_object(cached[0]):
        state = cached[1]
        paths = [(s, p) for _st, s, p in repo.changed_paths(cached[0], head) if p.startswith("events/")]
    else:
        state = State()
        paths = [(s, p) for _k, s, p in repo.ls_tree(head, "events")]
    paths.sort(key=lambda item: item[1])
    for (_sha, path), blob in zip(paths, repo.read_blobs(s for s, _p in paths)):
        state.apply(path, blob)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".lifecycle.{os.getpid()}.tmp")
        body = {"format": CACHE_FORMAT, "ref": head, "clock": state.clock, "fields": state.fields}
        tmp.write_text(json.dumps(body))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only store still reads; it folds again next time
    return state


def overlay(table: pa.Table, state: State, show: str = "visible") -> pa.Table:
    """``table`` as the life-cycle says: removed runs left out (unless ``show="all"``), archived ones too (unless
    ``show`` is ``"archived"`` or ``"all"``), and ``tags``/``note`` columns when any run has them (``archived``
    and ``removed`` columns too when such runs are shown)."""
    if show not in SHOW:
        raise ValueError(f"show={show!r}: expected one of {', '.join(SHOW)}")
    if not state.fields or not table.num_rows or "run_id" not in table.column_names:
        return table
    import pyarrow as pa
    import pyarrow.compute as pc

    hidden = set(state.removed()) if show != "all" else set()
    if show == "visible":
        hidden |= state.archived()
    if hidden:
        table = table.filter(
            pc.invert(pc.is_in(table["run_id"], value_set=pa.array(sorted(hidden), pa.string())))
        )
    ids = table["run_id"].to_pylist()
    columns: dict[str, list[Any]] = {"tags": [None] * len(ids), "note": [None] * len(ids)}
    if show != "visible":
        columns["archived"] = [None] * len(ids)
    if show == "all":
        columns["removed"] = [None] * len(ids)
    for i, run in enumerate(ids):
        if run not in state.fields:
            continue
        tags = state.tags(run)
        columns["tags"][i] = ",".join(tags) if tags else None
        columns["note"][i] = state.value(run, "note") or None
        if "archived" in columns:
            columns["archived"][i] = True if state.value(run, "archived") else None
        if "removed" in columns:
            removed = state.value(run, "removed")
            columns["removed"][i] = None if not removed else round(float(removed) * 1_000_000)
    for name, values in columns.items():
        if all(v is None for v in values):
            continue
        kind = pa.string() if name in ("tags", "note") else pa.bool_()
        if name == "removed":
            kind = pa.timestamp("us", tz="UTC")
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, pa.array(values, kind))
    return table


def matching_runs(state: State, *, tags: Iterable[str] = (), note: str | None = None) -> set[str]:
    """Runs carrying every tag in ``tags`` and (case-insensitively) ``note`` in their note."""
    tags = list(tags)
    out = set()
    for run in state.fields:
        if tags and not set(tags) <= set(state.tags(run)):
            continue
        if note is not None and note.lower() not in (state.value(run, "note") or "").lower():
            continue
        out.add(run)
    return out


def filter_table(table: pa.Table, tags: Iterable[str] = (), note: str | None = None) -> pa.Table:
    """Rows of ``table`` (as :func:`overlay` made it) carrying every tag in ``tags`` and whose note contains
    ``note`` (case-insensitive); an unknown tag is a usage error naming the tags that exist."""
    tags = list(tags)
    if not tags and note is None:
        return table
    import pyarrow as pa

    from gitxp.errors import UsageError, did_you_mean

    tag_cells = table["tags"].to_pylist() if "tags" in table.column_names else [None] * table.num_rows
    notes = table["note"].to_pylist() if "note" in table.column_names else [None] * table.num_rows
    known = {t for cell in tag_cells if cell for t in cell.split(",")}
    for tag in tags:
        if tag not in known:
            raise UsageError(f"--tag {tag!r}: no listed run has this tag{did_you_mean(tag, known)}")
    wanted, text = set(tags), (note or "").lower()
    mask = [
        (not wanted or (bool(cell) and wanted <= set(cell.split(","))))
        and (note is None or text in (n or "").lower())
        for cell, n in zip(tag_cells, notes)
    ]
    return table.filter(pa.array(mask, pa.bool_()))


def why_hidden(state: State, prefix: str, flag: str = "--all") -> str | None:
    """Why ``prefix`` names no listed run, when it is an archived or removed run's id: one line that says how to
    see it (``flag``) or bring it back."""
    text = prefix.strip().lower()
    if len(text) < 4:
        return None
    for run in sorted(state.removed()):
        if run.startswith(text):
            return f"run {run} was removed (bring it back with 'gitxp rm --undo {run[:12]}')"
    for run in sorted(state.archived()):
        if run.startswith(text):
            return f"run {run} is archived: add {flag} to include it (or 'gitxp unarchive {run[:12]}')"
    return None
