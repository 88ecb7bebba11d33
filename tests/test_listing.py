"""Listing at scale (issue 10, item 3): tables show the rows that fit and say how many are hidden, the plain
renderer draws exactly what rich draws, ``--since`` resolves ancestry once, the store packs itself as it grows."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

import gitxp
from gitxp.cli import output
from gitxp.store import REF, Store


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


# ---------------------------------------------------------------------- the plain renderer


@pytest.mark.parametrize("boxed", [False, True])
@pytest.mark.parametrize("max_width", [None, 6])
def test_plain_table_is_exactly_what_rich_draws(
    boxed: bool, max_width: int | None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    rng = random.Random(boxed * 2 + bool(max_width))
    alphabet = "abcxyz0123456789 .-_/()=,"
    for _ in range(20):
        ncols = rng.randint(1, 5)
        headers = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))).strip() or "h"
            for _ in range(ncols)
        ]
        numeric = [rng.random() < 0.4 for _ in range(ncols)]
        cells = [
            ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(ncols)]
            for _ in range(rng.randint(1, 6))
        ]
        plain = output.plain_table(headers, cells, numeric, boxed=boxed, max_width=max_width)
        assert plain is not None
        output._rich_table(headers, cells, numeric, headers, boxed=boxed, max_width=max_width)
        assert plain == capsys.readouterr().out, (headers, cells)


def test_plain_table_leaves_markup_and_wide_text_to_rich() -> None:
    for cell in ("[bold]x", "naïve", "a\nb", "x :smile: y", "10:100:2"):
        assert output.plain_table(["h"], [[cell]], [False], boxed=False, max_width=None) is None
    assert output.plain_table(["h"], [["06:31:05"]], [False], boxed=False, max_width=None) is not None


# ---------------------------------------------------------------------- hidden rows


def test_a_long_table_shows_what_fits_and_says_how_many_are_hidden(repo: Path, invoke, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for i in range(25):
        with gitxp.start(params={"i": i}) as run:
            run.result(acc=i / 25)
    monkeypatch.setenv("LINES", "20")  # 15 rows fit below the header
    result = invoke("ls")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 + 15  # the header and the 15 newest runs
    assert "(10 more runs not shown: --limit N shows N, --format csv or json shows all)" in result.stderr
    assert " 24 " in lines[1] + " "  # newest first
    every = invoke("ls", "--limit", "25")
    assert (
        len([line for line in every.stdout.splitlines() if line.strip()]) == 26
        and "not shown" not in every.stderr
    )
    assert len(json.loads(invoke("ls", "--format", "json").stdout)) == 25
    monkeypatch.setenv("LINES", "100")
    assert "not shown" not in invoke("ls").stderr


# ---------------------------------------------------------------------- --since


def _record_on(repo: Path, rev: str, name: str) -> str:
    git(repo, "checkout", "-q", rev)
    with gitxp.start(experiment="anc", params={"at": name}) as run:
        run.result(acc=0.5)
    return run.id


def test_since_resolves_ancestry_in_one_walk_and_matches_is_ancestor(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """History A - B - C on main, D branched from A, E merging C and D; a run on each, and one whose commit this
    clone does not have. --since X keeps exactly the runs whose commit X is an ancestor of (or equal to)."""
    commits = {"A": git(repo, "rev-parse", "HEAD")}
    for name in ("B", "C"):
        (repo / "train.py").write_text(f"print({name!r})\n")
        git(repo, "commit", "-qam", name)
        commits[name] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "side", commits["A"])
    (repo / "other.py").write_text("x = 1\n")
    git(repo, "add", "other.py")
    git(repo, "commit", "-qm", "D")
    commits["D"] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "side")
    commits["E"] = git(repo, "rev-parse", "HEAD")
    runs = {name: _record_on(repo, sha, name) for name, sha in commits.items()}
    store = Store.open(repo)
    store.flush()
    record = {
        "run_id": "0" * 25 + "z",
        "experiment": "anc",
        "version": "elsewhere",
        "commit": "f" * 40,
        "status": "finished",
        "started": 1.0,
        "params": {"at": "F"},
    }
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gitxp.store import record_table, run_path

    sink = pa.BufferOutputStream()
    pq.write_table(record_table(record), sink)
    store.commit_files({f"{run_path(record['run_id'])}/run.parquet": sink.getvalue().to_pybytes()}, "foreign")
    for base, sha in commits.items():
        expected = {
            runs[name]
            for name, other in commits.items()
            if subprocess.run(["git", "merge-base", "--is-ancestor", sha, other], cwd=repo).returncode == 0
        }
        listed = {r["run_id"] for r in json.loads(invoke("ls", "--since", sha, "--format", "json").stdout)}
        assert listed == expected, base
        assert set(gitxp.load(since=sha)["run_id"].to_pylist()) == expected
    assert expected == {runs["E"]}  # the last base, E, has only itself
    assert invoke("ls", "--since", "nope").exit_code == 2


# ---------------------------------------------------------------------- automatic packing


def _packs(repo: Path) -> list[str]:
    return [p for p in git(repo, "ls-tree", "-r", "--name-only", REF).splitlines() if p.startswith("packs/")]


def test_the_store_packs_itself_as_runs_are_recorded_one_by_one(repo: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gitxp.store.packs as packs

    monkeypatch.setattr(packs, "AUTO_PACK", 5)
    monkeypatch.setattr(packs, "MAX_PACKS", 3)
    store = Store.open(repo)
    ids = []
    for i in range(4):
        with gitxp.start(params={"i": i}) as run:
            run.result(acc=i)
        ids.append(run.id)
        store.flush()  # one commit per run, as runs recorded one by one
    assert _packs(repo) == [] and (store.root / "unpacked").read_text() == "4"
    for i in range(4, 30):
        with gitxp.start(params={"i": i}) as run:
            run.result(acc=i)
        ids.append(run.id)
        store.flush()
    assert 1 <= len(_packs(repo)) <= 3  # a pack per 5 runs, gathered into one when a fourth would appear
    assert int((store.root / "unpacked").read_text()) < 5
    counts = dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())
    assert int(counts["count"]) < 5 * 12  # the loose objects of the commits before the last pack are packed
    assert int(counts["in-pack"]) > 0
    listed = gitxp.load(sort="started")
    assert listed["run_id"].to_pylist() == ids  # nothing lost, nothing doubled
    cold = Store.open(repo)
    import shutil

    shutil.rmtree(cold.cache_dir)
    head = cold.head()
    assert head is not None
    parts = cold._cold_tables(head)
    from_packs = parts[0].num_rows
    assert from_packs >= 30 - 4  # a fresh reader takes all but the newest few runs from the packs
    assert gitxp.load(sort="started").to_pylist() == listed.to_pylist()


def test_automatic_packing_can_be_turned_off(repo: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gitxp.store.packs as packs

    monkeypatch.setattr(packs, "AUTO_PACK", 0)
    store = Store.open(repo)
    for i in range(3):
        with gitxp.start(params={"i": i}):
            pass
        store.flush()
    assert _packs(repo) == []
    git(repo, "config", "gc.auto", "0")  # git's own switch also keeps gitxp from repacking
    loose = git(repo, "count-objects")
    store.repack()
    assert git(repo, "count-objects") == loose


def test_json_records_column_by_column_equal_the_row_by_row_conversion() -> None:
    import math

    import pyarrow as pa

    micros = [0, 1_700_000_000_123456, 1_700_000_000_000000, None, 1_764_570_000_000001]
    table = pa.table(
        {
            "run_id": ["a", "b", "c", "d", "e"],
            "started": pa.array(micros, pa.timestamp("us", tz="UTC")),
            "duration": [1.5, math.nan, math.inf, None, -math.inf],
            "params.lr": [0.1, None, 0.3, None, 1e-05],
            "params.layers": pa.array([[1, 2], None, [3], [], None], pa.list_(pa.int64())),
            "params.on": [True, False, None, True, None],
            "results.n": pa.array([1, 2, None, 4, 2**40], pa.int64()),
            "meta.note": ["x", None, "naïve", "", "z"],
        }
    )
    reference = []
    for row in table.to_pylist():  # the conversion records() did before, cell by cell
        item: dict[str, object] = {}
        for name, value in row.items():
            group, _, key = name.partition(".")
            if group in ("params", "results", "meta") and key:
                if value is not None:
                    item.setdefault(group, {})[key] = output.to_json_value(value)  # type: ignore[union-attr]
            else:
                item[name] = output.to_json_value(value)
        reference.append(item)
    assert output.records(table) == reference
    assert output.json_dumps(output.records(table)) == output.json_dumps(reference)
