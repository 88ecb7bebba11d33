"""Issue 9, bad input and corrupt state: every malformed input ends in one line and exit 2 (CLI) or a clear
TypeError/ValueError (API), the store intact; corrupt local state never stops `ls`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clone_of, git, shared_remote
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_wrapper import write

import gitxp
import gitxp.space
from gitxp.errors import UsageError
from gitxp.space import parse_distribution, parse_grid

SPECS = [
    "nan:1:5", "1:1:inf", "-1e308:1e308:1e308", "1:1e-320:1.000001", "1:u99999999:2", "1e-5:l99999999:1",
    "0.001:0.01:0.003", "5:1:1", "1:2:3:4",
]  # fmt: skip
DISTS = [
    "randint(nan,5)", "randint(1,inf)", "categorical(1e308:a,1e308:b)", "uniform(nan,1)", "uniform(-inf,inf)",
    "normal(0,nan)", "loguniform(nan,1)", "categorical((a,b))", "categorical(1:a,b)", "uniform(-1e308,1e308)",
    "normal(9e307,9e307)",
]  # fmt: skip


@pytest.mark.parametrize("spec", SPECS)
def test_bad_grid_spec_is_exit_2(repo: Path, invoke, spec: str) -> None:  # type: ignore[no-untyped-def]
    result = invoke("run", "--grid", f"x={spec}", "--allow-unused", "--", sys.executable, "-c", "pass")
    assert result.exit_code == 2 and spec in result.output and result.output.count("\n") == 1


@pytest.mark.parametrize("dist", DISTS)
def test_bad_sample_spec_is_exit_2(repo: Path, invoke, dist: str) -> None:  # type: ignore[no-untyped-def]
    result = invoke(
        "run", "--sample", f"x={dist}", "-n", "2", "--allow-unused", "--", sys.executable, "-c", "pass"
    )
    assert result.exit_code == 2 and dist in result.output and result.output.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["-n", "99999999999999999999", "--sample", "x=uniform(0,1)"],
        ["-n", "200000", "--sample", "x=uniform(0,1)"],
        ["--grid", "x=0:999", "--grid", "y=0:999", "--grid", "z=0:999"],
    ],
)
def test_huge_sweeps_are_refused_before_allocating(repo: Path, invoke, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = invoke("run", *args, "--allow-unused", "--", sys.executable, "-c", "pass")
    assert result.exit_code == 2 and gitxp.load().num_rows == 0


def test_lists_parse_as_lists(repo: Path) -> None:
    assert parse_grid("[1,2]") == [1, 2]
    with pytest.raises(UsageError):
        parse_grid("[1,[2]]")


def test_space_file_mistakes(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    for text in (
        "hpsearch:\n  n_trials: abc\n  params: []\n",
        "params: 5\n",
        "hpsearch:\n  params:\n  - {param: x, exponent_base: 10, lo: 1, hi: 400}\n",
    ):
        (repo / "space.yaml").write_text(text)
        result = invoke(
            "run", "--space", "space.yaml", "--allow-unused", "--dry-run", "--", sys.executable, "-c", "pass"
        )
        assert result.exit_code == 2, (text, result.output)
        assert result.output.count("\n") == 1 and "Traceback" not in result.output


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_any_grid_spec_parses_or_is_a_usage_error(text: str) -> None:
    try:
        values = parse_grid(text)
    except UsageError:
        return
    assert isinstance(values, list) and len(values) <= 100_000
    assert (
        all(not (isinstance(v, float) and math.isnan(v)) for v in values if not isinstance(v, str))
        or "nan" in text.lower()
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["uniform", "loguniform", "normal", "randint", "categorical"]),
    st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=5)), max_size=4),
)
def test_any_distribution_parses_to_finite_draws_or_is_a_usage_error(kind: str, args: list[object]) -> None:
    import random

    text = f"{kind}({','.join(str(a) for a in args)})"
    try:
        dist = parse_distribution(text)
    except UsageError:
        return
    value = dist.sample(random.Random(0))
    assert not isinstance(value, float) or math.isfinite(value), (text, value)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.text(max_size=30))
def test_any_where_expression_is_a_result_or_a_usage_error(repo: Path, text: str) -> None:
    from gitxp.query import select

    table = _table()
    try:
        select(None, table, where=text)  # type: ignore[arg-type]
    except UsageError:
        pass


_CACHE: list[object] = []


def _table() -> object:
    if not _CACHE:
        import pyarrow as pa

        _CACHE.append(
            pa.table(
                {
                    "run_id": ["a", "b"],
                    "started": [1.0, 2.0],
                    "results.acc": [0.5, None],
                    "params.opt": ["adam", "sgd"],
                }
            )
        )
    return _CACHE[0]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_any_params_are_recorded_or_a_clear_error(repo: Path, value: object) -> None:
    try:
        run = gitxp.start(params={"p": value})
    except (TypeError, ValueError):
        return
    run.end()
    assert gitxp.load(limit=1).num_rows == 1  # and the store keeps reading


def test_api_mistakes_are_clear_errors(repo: Path) -> None:
    deep: dict[str, object] = {}
    cursor = deep
    for _ in range(1000):
        cursor["a"] = {}
        cursor = cursor["a"]  # type: ignore[assignment]
    with pytest.raises(TypeError, match="nested too deep"):
        gitxp.start(params=deep)
    for bad in ([1, 2], "abc"):
        with pytest.raises(TypeError, match="must be a mapping"):
            gitxp.start(params=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="experiment must be a string"):
        gitxp.start(experiment=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="given twice"):
        gitxp.start(params={"a.b": 1, "a": {"b": 2}})
    with gitxp.start() as run:
        with pytest.raises(ValueError, match="64 bits"):
            run.log(step=2**63, x=1.0)
        with pytest.raises(TypeError, match="must be strings"):
            run.log({1: 0.5})  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="status must be one of"):
            run.end("bogus")
    assert gitxp.load()["status"].to_pylist() == ["finished"]


def test_values_that_cannot_be_encoded_are_repaired(repo: Path) -> None:
    with gitxp.start(params={"x": "\ud800", "path": "data_\udcff.csv"}):
        pass
    code = "import gitxp\nwith gitxp.start(): pass\n"
    subprocess.run(
        [sys.executable, "-c", code, b"data_\xff.csv".decode("utf-8", "surrogateescape")],
        cwd=repo,
        check=True,
    )
    rows = gitxp.load(sort="started").to_pylist()
    assert rows[0]["params.x"] == "\\ud800" and rows[0]["params.path"] == "data_\\xff.csv"
    assert "data_\\xff.csv" in rows[1]["meta.argv"][-1]


# ---------------------------------------------------------------------- corrupt local state


def _three_runs() -> None:
    for i in range(3):
        with gitxp.start(params={"i": i}) as run:
            run.log(step=0, loss=1.0)


def _staging(repo: Path) -> Path:
    return repo / ".git" / "gitxp" / "staging"


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / "01m88jzzzzzzzzzzzzzzzzzzzz").mkdir() or (d / "01m88jzzzzzzzzzzzzzzzzzzzz" / "record.json").write_text("[1, 2]"),
        lambda d: (d / "01m88jzzzzzzzzzzzzzzzzzzzy").mkdir() or (d / "01m88jzzzzzzzzzzzzzzzzzzzy" / "record.json").write_text(json.dumps({"run_id": "01m88jzzzzzzzzzzzzzzzzzzzy", "pid": "x", "params": [1]})),
        lambda d: (d / "plainfile").write_text("hi"),
    ],
)  # fmt: skip
def test_bad_staging_entries_are_quarantined(repo: Path, invoke, damage) -> None:  # type: ignore[no-untyped-def]
    _three_runs()
    staging = _staging(repo)
    staging.mkdir(parents=True, exist_ok=True)
    damage(staging)
    result = invoke("ls", "--format", "json")
    assert result.exit_code == 0
    assert "moved the staging entry" in result.output
    assert len(json.loads(result.output[result.output.index("[") :])) == 3
    assert list((staging / ".corrupt").iterdir())  # kept aside, not deleted


@pytest.mark.parametrize("damage", ["state-list", "cache-file"])
def test_a_broken_read_cache_is_rebuilt(repo: Path, invoke, damage: str) -> None:  # type: ignore[no-untyped-def]
    _three_runs()
    gitxp.load()
    cache = repo / ".git" / "gitxp" / "cache"
    if damage == "state-list":
        (cache / "state.json").write_text("[1]")
    else:
        import shutil

        shutil.rmtree(cache)
        cache.write_text("not a directory")
    result = invoke("ls", "--format", "json")
    assert result.exit_code == 0 and len(json.loads(result.output)) == 3


def test_damaged_pack_and_foreign_ref_are_reported(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    import os
    import shutil

    from gitxp.store import REF

    _three_runs()
    assert invoke("gc").exit_code == 0
    pack = next(
        p for p in git(repo, "ls-tree", "-r", "--name-only", REF).splitlines() if p.startswith("packs/")
    )
    blob = (
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"], cwd=repo, input=b"garbage", capture_output=True
        )
        .stdout.decode()
        .strip()
    )
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "tmp-index")}
    subprocess.run(["git", "read-tree", REF], cwd=repo, check=True, env=env)
    subprocess.run(
        ["git", "update-index", "--cacheinfo", f"100644,{blob},{pack}"], cwd=repo, check=True, env=env
    )
    tree = subprocess.run(
        ["git", "write-tree"], cwd=repo, capture_output=True, text=True, env=env
    ).stdout.strip()
    git(repo, "update-ref", REF, git(repo, "commit-tree", tree, "-p", REF, "-m", "damaged"))
    shutil.rmtree(repo / ".git" / "gitxp" / "cache", ignore_errors=True)
    result = invoke("ls", "--format", "json")
    assert result.exit_code == 0 and "is damaged" in result.output
    assert len(json.loads(result.output[result.output.index("[") :])) == 3  # read from the run files
    git(repo, "update-ref", REF, git(repo, "rev-parse", "HEAD"))  # a ref that is not a store at all
    shutil.rmtree(repo / ".git" / "gitxp" / "cache", ignore_errors=True)
    foreign = invoke("ls")
    assert foreign.exit_code == 0 and "is not a gitxp store" in foreign.output


def test_leftover_ref_lock_does_not_stop_reading(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    _three_runs()
    lock = repo / ".git" / "refs" / "gitxp" / "runs.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    code = "import gitxp, os\nrun = gitxp.start(params={'i': 9})\nos._exit(0)\n"  # dies without ending
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True)
    result = invoke("ls", "--format", "json")
    assert result.exit_code == 0 and "runs.lock" in result.output
    assert len(json.loads(result.output[result.output.index("[") :])) == 4


def test_export_into_a_missing_directory(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    _three_runs()
    result = invoke("export", "-o", "out/nested/runs.csv")
    assert result.exit_code == 0 and (repo / "out" / "nested" / "runs.csv").exists()
    write(repo, "x.py", "pass\n")


def test_a_damaged_repository_is_one_line(repo: Path) -> None:
    _three_runs()
    gitxp.load()  # every run committed
    git(repo, "-c", "gc.auto=0", "repack", "-adq")
    for pack in (repo / ".git" / "objects" / "pack").glob("*.pack"):
        pack.chmod(0o644)
        with open(pack, "r+b") as handle:
            handle.truncate(200)
    import shutil

    shutil.rmtree(repo / ".git" / "gitxp" / "cache", ignore_errors=True)
    proc = subprocess.run([sys.executable, "-m", "gitxp", "ls"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "objects are damaged" in proc.stderr


def test_a_damaged_metrics_file_is_reported_for_that_run_only(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    from gitxp.store import run_path

    _three_runs()
    gitxp.load()
    target = gitxp.load(sort="started")["run_id"][0].as_py()
    _put_on_ref(repo, {f"{run_path(target)}/metrics.parquet": b"garbage"})
    shown = invoke("show", target)
    assert (
        shown.exit_code == 1 and f"run {target} is damaged" in shown.output and shown.output.count("\n") == 1
    )
    assert invoke("ls", "--format", "json").exit_code == 0
    other = gitxp.load(sort="started")["run_id"][1].as_py()
    assert invoke("show", other).exit_code == 0


# ---------------------------------------------------------------------- issue 21: stores that block every command


def _put_on_ref(repo: Path, files: dict[str, bytes]) -> None:
    """Commit ``files`` (path -> bytes) onto the store's ref by hand, as a foreign or damaged store would."""
    import os

    from gitxp.store import REF

    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "tmp-index")}
    subprocess.run(["git", "read-tree", REF], cwd=repo, check=True, env=env)
    for path, data in files.items():
        blob = (
            subprocess.run(
                ["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data, capture_output=True, check=True
            )
            .stdout.decode()
            .strip()
        )
        subprocess.run(
            ["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"],
            cwd=repo,
            check=True,
            env=env,
        )
    tree = subprocess.run(
        ["git", "write-tree"], cwd=repo, capture_output=True, text=True, env=env
    ).stdout.strip()
    git(repo, "update-ref", REF, git(repo, "commit-tree", tree, "-p", REF, "-m", "by hand"))


def _parquet(table: object) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def _cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitxp", *args], cwd=repo, capture_output=True, text=True)


def _foreign_packs() -> list[bytes]:
    import pyarrow as pa

    return [
        _parquet(pa.table({"x": [1, 2]})),
        _parquet(pa.table({"run_id": [1, 2], "_blob": ["a", "b"]})),
        _parquet(
            pa.table({"run_id": ["01m88jzzzzzzzzzzzzzzzzzzzz"], "_blob": ["a"], "started": ["yesterday"]})
        ),
        _parquet(pa.table({"run_id": ["01m88jzzzzzzzzzzzzzzzzzzzz"], "_blob": ["a"], "lr": [0.1]})),
    ]


@pytest.mark.parametrize("which", range(4))
def test_a_foreign_pack_is_refused_by_pull_and_skipped_on_read(
    repo: Path,
    tmp_path: Path,
    invoke,
    which: int,  # type: ignore[no-untyped-def]
) -> None:
    import shutil

    _three_runs()
    gitxp.load()
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo), str(other))
    _put_on_ref(repo, {"packs/0123456789abcdef.parquet": _foreign_packs()[which]})
    pulled = _cli(other, "pull", str(repo))
    assert pulled.returncode != 0 and "Traceback" not in pulled.stderr, pulled.stderr
    assert "packs/0123456789abcdef.parquet" in pulled.stderr and "not a gitxp pack" in pulled.stderr
    assert pulled.stderr.count("\n") == 1
    assert json.loads(_cli(other, "ls", "--format", "json").stdout) == []  # nothing merged
    shutil.rmtree(repo / ".git" / "gitxp" / "cache", ignore_errors=True)  # a cold read, as in a fresh clone
    listed = invoke("ls", "--format", "json")
    assert listed.exit_code == 0 and "is not a gitxp pack" in listed.output
    assert len(json.loads(listed.output[listed.output.index("[") :])) == 3
    assert invoke("gc").exit_code == 0  # and gc replaces it with a pack of the real runs
    shutil.rmtree(repo / ".git" / "gitxp" / "cache", ignore_errors=True)
    again = invoke("ls", "--format", "json")
    assert "not a gitxp pack" not in again.output and len(json.loads(again.output)) == 3


def test_a_damaged_record_attached_to_a_dead_wrapper_is_quarantined(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    _three_runs()
    code = "import gitxp, os\nrun = gitxp.start(params={'i': 9})\nprint(run.id)\nos._exit(0)\n"
    rid = subprocess.run([sys.executable, "-c", code], cwd=repo, check=True, capture_output=True, text=True)
    run_id = rid.stdout.strip()
    attached = _staging(repo) / run_id / "attached"
    (attached / "123-01m88jzzzzzzzzzzzzzzzzzzzz").mkdir(parents=True)
    (attached / "123-01m88jzzzzzzzzzzzzzzzzzzzz" / "record.json").write_text("[1, 2]")
    (attached / "124-01m88jzzzzzzzzzzzzzzzzzzzy").mkdir(parents=True)
    good = {
        "run_id": "01m88jzzzzzzzzzzzzzzzzzzzy",
        "started": 1.0,
        "experiment": "x",
        "params": {"attached": 1},
    }
    (attached / "124-01m88jzzzzzzzzzzzzzzzzzzzy" / "record.json").write_text(json.dumps(good))
    for command in (["show", run_id[:12]], ["ls", "--format", "json"], ["export", "-o", "out.csv"]):
        result = _cli(repo, *command)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (command, result.stderr)
    rows = {r["run_id"]: r for r in gitxp.load().to_pylist()}
    assert len(rows) == 4 and rows[run_id]["status"] == "crashed" and rows[run_id]["params.attached"] == 1
    assert list((_staging(repo) / ".corrupt").iterdir())  # kept aside, not deleted


def test_a_missing_run_blob_skips_that_run_only(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from gitxp.store import REF, run_path

    _three_runs()
    gitxp.load()
    target = gitxp.load(sort="started")["run_id"][0].as_py()
    sha = git(repo, "rev-parse", f"{REF}:{run_path(target)}/run.parquet")
    git(repo, "-c", "gc.auto=0", "repack", "-adq")  # every object in one pack, then loose, then drop that one
    packdir = repo / ".git" / "objects" / "pack"
    for pack in list(packdir.glob("*.pack")):
        data = pack.read_bytes()
        for path in packdir.glob(pack.stem + ".*"):
            path.unlink()
        subprocess.run(["git", "unpack-objects", "-q"], cwd=repo, input=data, check=True)
    (repo / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    shutil.rmtree(repo / ".git" / "gitxp" / "cache", ignore_errors=True)
    result = _cli(repo, "ls", "--format", "json")  # a fresh process: nothing it committed itself
    assert result.returncode == 0 and "missing" in result.stderr, result.stderr
    assert len(json.loads(result.stdout)) == 2


def test_a_garbage_pack_does_not_stop_gc_or_push(repo: Path, tmp_path: Path) -> None:
    _three_runs()
    gitxp.load()
    _put_on_ref(repo, {"packs/00000000deadbeef.parquet": b"garbage"})
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    pushed = _cli(repo, "push", str(bare))
    assert pushed.returncode == 0 and "Traceback" not in pushed.stderr, pushed.stderr
    collected = _cli(repo, "gc")
    assert collected.returncode == 0 and "packed 3 runs" in collected.stdout, collected.stderr
    from gitxp.store import REF

    assert "00000000deadbeef" not in git(repo, "ls-tree", "-r", "--name-only", REF)  # replaced by a good pack


@pytest.mark.parametrize(
    "columns",
    [
        {"step": ["a"], "name": [1], "value": ["x"], "time": ["t"]},
        {"step": [0.5], "name": ["loss"], "value": [1.0], "time": [0.0]},
        {"x": [1]},
    ],
)
def test_a_metrics_file_of_wrong_types_is_one_line(repo: Path, columns: dict[str, list[object]]) -> None:
    import pyarrow as pa

    from gitxp.store import run_path

    _three_runs()
    runs = gitxp.load(sort="started")["run_id"].to_pylist()
    _put_on_ref(repo, {f"{run_path(runs[0])}/metrics.parquet": _parquet(pa.table(columns))})
    shown = _cli(repo, "show", runs[0], "--metrics")
    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    assert f"run {runs[0]} is damaged" in shown.stderr and shown.stderr.count("\n") == 1
    assert _cli(repo, "show", runs[1], "--metrics").returncode == 0
    exported = _cli(repo, "ui", "--export", "report.html", "-e", repo.name)
    assert exported.returncode == 0 and "Traceback" not in exported.stderr, exported.stderr
    assert f"run {runs[0]} is damaged" in exported.stderr and (repo / "report.html").exists()


def test_parquet_bytes_are_read_from_arrow_memory() -> None:
    """Issue 21.8: `show RUN --metrics` aborted now and then at exit (134, "terminate called without an active
    exception"; core dump: an Arrow worker thread dropping the last reference to a Python buffer after the read
    returned, taking the GIL while the interpreter finalised). Bytes from git are copied into Arrow's memory and
    decoded on the calling thread, so no Arrow thread ever holds Python memory: no module wraps them itself."""
    import pyarrow as pa

    from gitxp.store.tables import read_parquet

    table = pa.table({"step": [1, 2], "name": ["a", "b"]})
    data = _parquet(table)
    assert read_parquet(data).equals(table) and read_parquet(bytearray(data)).equals(table)
    root = Path(gitxp.__file__).parent
    wrapping = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "tables.py"
        and ("BufferReader(" in path.read_text() or "py_buffer(blob" in path.read_text())
    ]
    assert wrapping == []


def test_show_metrics_exits_cleanly_again_and_again(repo: Path) -> None:
    import shutil

    _three_runs()
    run_id = gitxp.load(sort="started")["run_id"][0].as_py()
    assert _cli(repo, "gc").returncode == 0
    for attempt in range(12):
        if attempt % 2:  # cold reads (right after gc) and warm ones
            shutil.rmtree(repo / ".git" / "gitxp" / "cache", ignore_errors=True)
        shown = _cli(repo, "show", run_id, "--metrics")
        assert shown.returncode == 0 and "loss" in shown.stdout, (attempt, shown.returncode, shown.stderr)


# ---------------------------------------------------------------------- issue 21.7: read-only .git, full disk


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 4 MB tmpfs (tests run as root; skipped where mounting is not allowed)."""
    where = tmp_path / "disk"
    where.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)):
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def test_read_only_git_reads_without_writing_their_cache(repo: Path) -> None:
    import shutil

    _three_runs()
    runs = gitxp.load(sort="started")["run_id"].to_pylist()
    code = "import gitxp, os\nrun = gitxp.start(params={'i': 9})\nos._exit(0)\n"  # a dead run to recover
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True)
    shutil.rmtree(repo / ".git" / "gitxp" / "cache")
    git_dir = str(repo / ".git")
    if not (_mount("--bind", git_dir, git_dir) and _mount("-o", "remount,bind,ro", git_dir)):
        subprocess.run(["umount", git_dir], check=False)
        pytest.skip("cannot mount read-only here")
    try:
        for command in (
            ["ls", "--format", "json"],
            ["ls", "--where", "params.i > 0"],
            ["show", runs[0], "--metrics"],
            ["compare", runs[0], runs[1]],
            ["export", "-o", str(repo.parent / "out.csv")],
        ):
            result = _cli(repo, *command)
            assert result.returncode == 0 and "Traceback" not in result.stderr, (command, result.stderr)
        assert len(json.loads(_cli(repo, "ls", "--format", "json").stdout)) == 4
        written = _cli(repo, "run", "--allow-unused", "-p", "x=1", "--", sys.executable, "-c", "pass")
        assert written.returncode == 1 and "Traceback" not in written.stderr, written.stderr
        assert "read-only file system" in written.stderr and written.stderr.count("\n") == 1
        assert not (repo / ".git" / "gitxp" / "cache").exists()
    finally:
        subprocess.run(["umount", git_dir], check=False)


def test_a_full_disk_is_one_line_and_loses_nothing(small_disk: Path) -> None:
    repo = small_disk / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "train.py").write_text("print('training')\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "initial")
    assert (
        _cli(repo, "run", "--allow-unused", "-p", "x=1", "--", sys.executable, "-c", "pass").returncode == 0
    )
    code = f"""
import gitxp, time, os
from pathlib import Path
disk = Path({str(small_disk)!r})
with gitxp.start(params={{'x': 2}}) as run:
    run.log(step=0, loss=1.0)
    time.sleep(0.3)
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\\0" * 65536)
                handle.flush()
        except OSError:
            pass
    for step in range(1, 300):
        run.log(step=step, loss=1.0 / step)
    run.result(acc=0.5)
    time.sleep(2.5)  # flushes fail for a while, then there is room again
    filler.unlink()
    run.log(step=300, loss=0.0)
print("done")
"""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "GITXP_FLUSH_SECONDS": "0.5"},
    )
    assert proc.returncode == 0 and "done" in proc.stdout, proc.stderr
    assert "no space left on device" in proc.stderr and "Traceback" not in proc.stderr
    filler = _fill(small_disk)
    listed = _cli(repo, "ls", "--format", "json")  # reading a full disk: no cache written, still an answer
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 2, listed.stderr
    for command in (
        ["run", "--allow-unused", "-p", "x=3", "--", sys.executable, "-c", "pass"],
        ["run", "--allow-unused", "--grid", "x=1,2", "--", sys.executable, "-c", "pass"],
    ):
        written = _cli(repo, *command)
        assert written.returncode == 1 and "Traceback" not in written.stderr, written.stderr
        errors = [line for line in written.stderr.splitlines() if line.startswith("gitxp: error:")]
        assert len(errors) == 1 and "no space left on device" in errors[0], written.stderr
    filler.unlink()
    rows = {r["params.x"]: r for r in gitxp.load(path=repo).to_pylist()}
    assert rows[2]["status"] == "finished" and rows[2]["results.acc"] == 0.5
    points = gitxp.metrics(rows[2]["run_id"], path=repo)
    assert points.num_rows == 301  # every point, written once there was room


# ---------------------------------------------------------------------- issue 21.9-10: spaces read as the CLI reads them


def _dry_run(repo: Path, invoke, text: str | bytes, *extra: str):  # type: ignore[no-untyped-def]
    path = repo / "space.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return invoke(
        "run",
        "--space",
        "space.yaml",
        *extra,
        "--allow-unused",
        "--dry-run",
        "--",
        sys.executable,
        "-c",
        "pass",
    )


def test_space_file_grid_strings_are_read_as_the_cli_reads_them(repo: Path) -> None:
    from gitxp.space import load_space_file

    (repo / "space.yaml").write_text(
        "epochs: 1:5\ngrid:\n  lr: 0.1:0.1:0.3\n  depth: 010\n  flag: [yes, no]\nparams:\n  n_layers: 1_000\n"
    )
    space = load_space_file(repo / "space.yaml")
    assert space.grid["epochs"] == [1, 2, 3, 4, 5]  # not 65 (YAML 1.1 base 60)
    assert space.grid["lr"] == [0.1, 0.2, 0.3] and space.grid["depth"] == [10]
    assert space.grid["flag"] == ["yes", "no"] and space.fixed["n_layers"] == "1_000"


@pytest.mark.parametrize(
    "text",
    [
        "hpsearch:\n  params:\n  - {param: opt, values: abc}\n",
        "hpsearch:\n  params:\n  - {param: opt, values: 5}\n",
        "hpsearch:\n  params:\n  - {param: opt, values: []}\n",
        "hpsearch:\n  params:\n  - {param: k, type: int, lo: 1.5, hi: 4}\n",
        "hpsearch:\n  params:\n  - {param: x, exponent_base: -2, lo: 0.5, hi: 1.5}\n",
        "hpsearch:\n  params:\n  - {param: x, exponent_base: 0, lo: -1, hi: 1}\n",
        "grid:\n  k: []\n",
        "k: []\n",
        "grid:\n  k: {a: 1}\n",
        "sample:\n  k: 5\n",
        "sample:\n  k: [1, 2]\n",
        "n: 100000000000000000000\nsample:\n  k: uniform(0,1)\n",
        "n: 10**20\nsample:\n  k: uniform(0,1)\n",
        "hpsearch:\n  n_trials: 100000000000000000000\n  params:\n  - {param: x, lo: 0, hi: 1}\n",
        b"params:\n  name: caf\xe9\n",
    ],
)
def test_space_file_mistakes_are_one_line(repo: Path, invoke, text: str | bytes) -> None:  # type: ignore[no-untyped-def]
    result = _dry_run(repo, invoke, text)
    assert result.exit_code == 2 and "Traceback" not in result.output, (text, result.output)
    assert result.output.count("\n") == 1, result.output


def test_space_file_n_obeys_max_runs(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    assert _dry_run(repo, invoke, "n: 50\nsample:\n  k: uniform(0,1)\n", "--max-runs", "10").exit_code == 2
    assert _dry_run(repo, invoke, "n: 5\nsample:\n  k: uniform(0,1)\n", "--max-runs", "10").exit_code == 0


@pytest.mark.parametrize("spec", ["-1e308:1e308:", "0:1e308:u", "1e-300:1e300:lu", "-1e308:1e308:3:a"])
def test_studio_samples_never_draw_inf(spec: str) -> None:
    with pytest.raises(UsageError, match="too large"):
        parse_distribution(spec)


def test_list_items_are_trimmed_and_unquoted_and_digits_are_ascii() -> None:
    assert parse_grid("adam, sgd") == ["adam", "sgd"]
    assert parse_grid('["adam", "sgd"]') == ["adam", "sgd"]
    assert parse_grid("'1', 2") == ["1", 2]
    assert parse_grid("٣") == ["٣"] and parse_grid("1,٣") == [1, "٣"]
    assert gitxp.space.parse_value("٣") == "٣" and gitxp.space.parse_value("١.٥") == "١.٥"
    with pytest.raises(UsageError):
        parse_grid("٣:5")
    with pytest.raises(UsageError):
        parse_distribution("uniform(٣,5)")
    assert parse_distribution("categorical( adam, 'sgd')").values == ("adam", "sgd")  # type: ignore[attr-defined]


def test_randint_bounds_are_exact_past_2_53() -> None:
    import random

    dist = parse_distribution("randint(9007199254740993,9007199254740993)")
    assert dist.sample(random.Random(0)) == 9007199254740993
    with pytest.raises(UsageError):
        parse_distribution("randint(1e300,1e301)")


def test_fractional_or_infinite_steps_are_refused(repo: Path) -> None:
    with gitxp.start() as run:
        for step in (1.5, math.inf, math.nan):
            with pytest.raises(ValueError, match="whole number"):
                run.log(step=step, loss=1.0)  # type: ignore[arg-type]
        run.log(step=2.0, loss=1.0)  # type: ignore[arg-type]
    assert gitxp.metrics(run.id)["step"].to_pylist() == [2]


@pytest.mark.parametrize("remote", ["", "  ", "ext::sh -c touch% pwned", ".", "./.git", "\udcff\udcfe"])
def test_push_and_pull_refuse_remotes_that_cannot_be_meant(repo: Path, invoke, remote: str) -> None:  # type: ignore[no-untyped-def]
    _three_runs()
    for command in ("push", "pull"):
        result = invoke(command, remote)
        assert result.exit_code == 2 and "Traceback" not in result.output, (command, remote, result.output)
        assert result.output.count("\n") == 1 and "pushed" not in result.output
    assert not (repo / "pwned").exists()


def test_cancel_grace_must_be_a_finite_number(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    _three_runs()
    run_id = gitxp.load()["run_id"][0].as_py()
    for grace in ("nan", "inf", "-1"):
        result = invoke("cancel", run_id, "--grace", grace, "--yes")
        assert result.exit_code == 2 and "--grace" in result.output, (grace, result.output)


def test_clones_pushing_at_once_all_get_through(repo: Path, tmp_path: Path) -> None:
    bare = shared_remote(repo, tmp_path / "remote.git")
    clones = []
    for i in range(5):
        clone = clone_of(bare, tmp_path / f"clone{i}")
        code = f"import gitxp\nfor j in range(3):\n    with gitxp.start(params={{'i': {i}, 'j': j}}): pass\n"
        subprocess.run([sys.executable, "-c", code], cwd=clone, check=True)
        _cli(clone, "ls")  # committed
        clones.append(clone)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gitxp", "push"],
            cwd=c,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in clones
    ]
    outcomes = [(p.wait(), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _err in outcomes), outcomes
    pulled = _cli(repo, "pull")
    assert pulled.returncode == 0, pulled.stderr
    assert len(json.loads(_cli(repo, "ls", "--format", "json").stdout)) == 15


# ---------------------------------------------------------------------- issue 21.11: CLI and API tracebacks

NOT_UTF8 = b"\xff\xfe".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    "args",
    [
        ["show", NOT_UTF8],
        ["ls", "--where", f"params.i > '{NOT_UTF8}'"],
        ["ls", "-e", NOT_UTF8],
        ["compare", NOT_UTF8, "HEAD"],
        ["show", "0" * 5000],
        ["compare", "0" * 5000, "HEAD"],
        ["ls", "-e", "0" * 5000],
        ["ls", "--limit", str(2**63)],
        ["ls", "--where", "1 < 5"],
        ["ls", "--where", "not " * 3000 + "params.i > 1"],
        ["ls", "--where", "(" * 3000 + "params.i > 1" + ")" * 3000],
        ["tag", "0" * 5000, "x"],
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_odd_arguments_are_one_line(repo: Path, invoke, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    _three_runs()
    result = invoke(*args)
    assert result.exit_code in (1, 2) and "Traceback" not in result.output, result.output
    assert result.output.count("\n") == 1, result.output
    if NOT_UTF8 in " ".join(args):  # as a real process gets them: bytes in argv
        code = "import sys\nfrom gitxp.cli import main\nmain()\n"
        argv = [a.encode("utf-8", "surrogateescape") for a in args]
        proc = subprocess.run(
            [sys.executable.encode(), b"-c", code.encode(), *argv], cwd=repo, capture_output=True
        )
        assert proc.returncode == 2 and b"Traceback" not in proc.stderr and proc.stderr.count(b"\n") == 1


def test_chained_comparisons_in_where(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    _three_runs()
    result = invoke("ls", "--where", "0 < params.i < 2", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)) == 1
    assert invoke("ls", "--limit", str(2**63 - 1), "--format", "json").exit_code == 0


def test_api_argument_mistakes_are_clear_errors(repo: Path) -> None:
    looped: list[object] = [1]
    looped.append(looped)
    with pytest.raises(TypeError, match="metric must be a string"):
        gitxp.start(metric=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="meta must be a mapping"):
        gitxp.start(meta="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="nested too deep"):
        gitxp.start(params={"l": looped})
    assert gitxp.load().num_rows == 0


def test_a_damaged_clone_id_is_one_line(repo: Path) -> None:
    _three_runs()
    run_id = gitxp.load()["run_id"][0].as_py()
    for damage in (b"\xff\xfe garbage", b"", b"0123"):
        (repo / ".git" / "gitxp" / "clone-id").write_bytes(damage)
        tagged = _cli(repo, "tag", run_id, "best")
        assert tagged.returncode == 2 and "Traceback" not in tagged.stderr, tagged.stderr
        assert "clone-id is damaged" in tagged.stderr and tagged.stderr.count("\n") == 1


def test_one_experiments_text_keeps_other_experiments_types(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    import shutil

    for i in range(3):
        with gitxp.start(experiment="A", params={"k": i, "flag": True}):
            pass
    with gitxp.start(experiment="B", params={"k": "x", "flag": "y"}):
        pass
    for cold in (False, True):
        if cold:
            shutil.rmtree(repo / ".git" / "gitxp" / "cache", ignore_errors=True)
        rows = gitxp.load("A", sort="started").select(["params.k", "params.flag"]).to_pylist()
        assert rows == [{"params.k": i, "params.flag": True} for i in range(3)], rows
        assert gitxp.load("B")["params.k"].to_pylist() == ["x"]
        listed = invoke("ls", "-e", "A", "--where", "params.k > 0", "--format", "json")
        assert listed.exit_code == 0 and len(json.loads(listed.output)) == 2, listed.output


def test_a_grid_larger_than_the_default_limit_runs_when_max_runs_allows_it(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """The grid's points are built by the strategy, after parsing: they obeyed the default limit, not --max-runs
    (the error told the user to raise --max-runs they had just raised)."""
    (repo / "t.py").write_text("print('gitxp: acc=1')\n")
    big = ("run", "--grid", "a=1:150000", "--dry-run", "--", sys.executable, "t.py", "{a}")
    refused = invoke(*big)
    assert refused.exit_code == 2 and "raise --max-runs" in refused.output, refused.output
    allowed = invoke(*big[:3], "--max-runs", "200000", *big[3:])
    assert allowed.exit_code == 0, allowed.output
    assert "149995 more" in allowed.output
