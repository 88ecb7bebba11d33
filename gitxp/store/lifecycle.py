"""Life-cycle events on the ref (``gitxp tag``/``note``/``archive``/``rm``, see gitxp.lifecycle), and their
folding into each run's tags, note, archived and removed state.

Every ``gitxp tag``/``note``/``archive``/``rm`` (and their undo) appends one file to the store's ref::

    events/<clone>/<time, 16 hex digits>-<nonce>.json
    {"format": 1, "clone": "<clone>", "time": <microseconds>, "ops": [["<run id>", "<field>", <value>], ...]}

``<clone>`` is a random id kept in ``.git/gitxp/clone-id`` (a ``git clone`` gets a new one), so two clones never
write the same path and two stores merge as a plain union of files (``Store.merge``). Files are never changed or
deleted. Fields: ``tag:<name>`` (true: added, false: removed), ``note`` (text, or null to clear: each clone's
newest note is kept, so a teammate's note stands beside yours, newest first; a clear removes all older), ``archived``
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

from gitxp.errors import GitxpWarning, UsageError
from gitxp.store.ids import is_run_id

if TYPE_CHECKING:
    import pyarrow as pa

    from gitxp.git.repo import Repo

__all__ = ["State", "View", "load_state", "load_view", "event_file", "clone_id", "overlay", "SHOW", "FORMAT"]

FORMAT = 1
CACHE_FORMAT = 2  # 2: notes kept per clone (a teammate's note is kept beside yours)
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
            text = path.read_text(errors="replace").strip()
        except IsADirectoryError:
            text = "(a directory)"
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
        raise UsageError(f"{path} is damaged (expected 16 hex digits); delete it and try again")
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
            if name == "note":  # each clone's newest note is kept: a teammate's note never replaces yours
                own = f"note@{match.group(1)}"
                if own not in slot or slot[own][0] < key:
                    slot[own] = [key, value]
                if value is None and ("note!clear" not in slot or slot["note!clear"][0] < key):
                    slot["note!clear"] = [key, None]  # a clear removes every note older than it

    def value(self, run: str, name: str, default: Any = None) -> Any:
        slot = self.fields.get(run, {}).get(name)
        return default if slot is None else slot[1]

    def tags(self, run: str) -> list[str]:
        return sorted(
            k[4:] for k, (_key, v) in self.fields.get(run, {}).items() if k.startswith("tag:") and v
        )

    def notes(self, run: str) -> str | None:
        """The run's notes, newest first (joined by `` | ``): each clone's newest note, unless a newer clear
        (``gitxp note RUN --clear``, from any clone) removed it. Two people noting the same run keep both."""
        slot = self.fields.get(run, {})
        latest = slot.get("note")
        cleared = slot["note!clear"][0] if "note!clear" in slot else None
        found = sorted(
            (key, text)
            for name, (key, text) in slot.items()
            if name.startswith("note@") and text and (cleared is None or key > cleared)
        )
        if not found and latest is not None and latest[1]:
            found = [(latest[0], latest[1])]  # (a fold cached before notes were kept per clone)
        return " | ".join(text for _key, text in reversed(found)) or None

    def removed(self) -> dict[str, float]:
        """Removed runs and when (seconds since the epoch)."""
        return {r: float(f["removed"][1]) for r, f in self.fields.items() if f.get("removed", [0, None])[1]}

    def archived(self) -> set[str]:
        return {r for r, f in self.fields.items() if f.get("archived", [0, False])[1]}

    def view(self) -> View:
        tags = {r: ",".join(t) for r in self.fields if (t := self.tags(r))}
        notes = {r: n for r in self.fields if (n := self.notes(r))}
        return View(tags=tags, notes=notes, archived_ids=sorted(self.archived()), removed_at=self.removed())


@dataclass
class View:
    """What listings need of the fold: each run's tags (joined by commas), note, archived and removed state."""

    tags: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    archived_ids: list[str] = field(default_factory=list)
    removed_at: dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tags or self.notes or self.archived_ids or self.removed_at)

    def removed(self) -> dict[str, float]:
        return self.removed_at

    def archived(self) -> set[str]:
        return set(self.archived_ids)


def load_view(repo: Repo, head: str | None, cache_dir: Path) -> View:
    """The :class:`View` of commit ``head``, from its own small cache (``lifecycle-view.json``) when it is current:
    a listing never parses the whole fold."""
    if head is None:
        return View()
    cache = cache_dir / "lifecycle-view.json"
    try:
        data = json.loads(cache.read_text())
        if isinstance(data, dict) and data.get("format") == CACHE_FORMAT and data.get("ref") == head:
            view = View(data["tags"], data["notes"], data["archived"], data["removed"])
            if all(
                isinstance(x, (dict, list))
                for x in (view.tags, view.notes, view.archived_ids, view.removed_at)
            ):
                return view
    except (OSError, ValueError, KeyError, TypeError):
        pass
    view = load_state(repo, head, cache_dir).view()
    body = {"format": CACHE_FORMAT, "ref": head, "tags": view.tags, "notes": view.notes}
    body.update(archived=view.archived_ids, removed=view.removed_at)
    try:
        tmp = cache.with_name(f".lifecycle-view.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(body))
        os.replace(tmp, cache)
    except OSError:
        pass
    return view


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


def overlay(table: pa.Table, view: View, show: str = "visible") -> pa.Table:
    """``table`` as the life-cycle says: removed runs left out (unless ``show="all"``), archived ones too (unless
    ``show`` is ``"archived"`` or ``"all"``), and ``tags``/``note`` columns when any run has them (``archived``
    and ``removed`` columns too when such runs are shown)."""
    if show not in SHOW:
        raise ValueError(f"show={show!r}: expected one of {', '.join(SHOW)}")
    if not view or not table.num_rows or "run_id" not in table.column_names:
        return table
    import pyarrow as pa
    import pyarrow.compute as pc

    hidden = set(view.removed_at) if show != "all" else set()
    if show == "visible":
        hidden.update(view.archived_ids)
    if hidden:
        keep = pc.invert(pc.is_in(table["run_id"], value_set=pa.array(sorted(hidden), pa.string())))
        table = table.filter(keep)
    ids = table["run_id"].to_pylist()
    columns: dict[str, tuple[pa.DataType, list[Any]]] = {
        "tags": (pa.string(), [view.tags.get(r) for r in ids] if view.tags else []),
        "note": (pa.string(), [view.notes.get(r) for r in ids] if view.notes else []),
    }
    if show != "visible" and view.archived_ids:
        archived = set(view.archived_ids)
        columns["archived"] = (pa.bool_(), [True if r in archived else None for r in ids])
    if show == "all" and view.removed_at:
        removed = {r: round(float(t) * 1_000_000) for r, t in view.removed_at.items()}
        columns["removed"] = (pa.timestamp("us", tz="UTC"), [removed.get(r) for r in ids])
    for name, (kind, values) in columns.items():
        if not values or all(v is None for v in values):
            continue
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, pa.array(values, kind))
    return table


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


def why_hidden(state: State | View, prefix: str, flag: str = "--all") -> str | None:
    """Why ``prefix`` names no listed run, when it is an archived or removed run's id: one line that says how to
    see it (``flag``) or bring it back."""
    text = prefix.strip().lower()
    if len(text) < 4:
        return None
    for run in sorted(state.removed()):
        if run.startswith(text):
            return f"run {run} was removed (bring it back with 'gitxp rm --undo {run}')"
    for run in sorted(state.archived()):
        if run.startswith(text):
            return f"run {run} is archived: add {flag} to include it (or 'gitxp unarchive {run}')"
    return None
