"""Run ids are unique as printed: every id ``ls``, the sweep summary, ``compare``, ``bisect`` and the dashboard
show is the shortest prefix (at least 8 characters) that no other run of the store shares, like git's
abbreviated hashes, so ``gitxp show <id as printed>`` always finds that one run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_python

from gitxp.store import Store
from gitxp.store.ids import MIN_SHOWN, new_run_id, unique_prefixes


def test_ids_made_in_one_millisecond_differ_early() -> None:
    ids = [new_run_id() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # still time-sortable and monotonic
    shown = unique_prefixes(ids, sorted(ids))
    assert len(set(shown)) == len(ids)
    assert max(len(s) for s in shown) <= 16  # not 26: a burst does not differ only in its last character


def test_unique_prefixes_are_the_shortest_of_at_least_8() -> None:
    universe = sorted(
        ["0123456789aaaaaaaaaaaaaaaa", "0123456789aaaabbbbbbbbbbbb", "01234567zzzzzzzzzzzzzzzzzz"]
    )
    assert unique_prefixes(universe, universe) == ["0123456789aaaaa", "0123456789aaaab", "01234567z"]
    assert unique_prefixes(["0123456789aaaaaaaaaaaaaaaa"], universe, minimum=4) == ["0123456789aaaaa"]
    assert unique_prefixes([], universe) == []
    assert MIN_SHOWN == 8


def _shown_ids(out: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\s*([0-9a-hjkmnp-tv-z]{8,26})\s", out, re.M)]


def _cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "gitxp", *args], cwd=repo, capture_output=True, text=True, env=env, check=False
    )


def test_300_runs_made_in_a_loop_show_distinct_ids_that_resolve(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    run_python(
        "import gitxp\n"
        "for i in range(300):\n"
        "    with gitxp.start(experiment='loop', params={'i': i}) as run:\n"
        "        run.result(acc=i / 300)\n",
        repo,
    )
    out = invoke("ls", "--limit", "300", "--columns", "run_id,params.i")
    assert out.exit_code == 0, out.output
    shown = _shown_ids(out.stdout)
    assert len(shown) == 300 and len(set(shown)) == 300, f"{300 - len(set(shown))} ids shown twice"
    store = Store.open(repo)
    everything = store.table(show="all")
    full = set(everything["run_id"].to_pylist())
    for prefix in shown:
        assert store.resolve_run(prefix) in full  # what gitxp show resolves with
    for prefix in shown[::60]:
        assert invoke("show", prefix, "--format", "json").exit_code == 0


def test_a_slurm_array_like_burst_shows_distinct_ids(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """Tasks of a job array start in the same millisecond in separate processes: their ids share the time part
    and, by chance, the first characters of the random part."""
    stamp = new_run_id()[:10]
    ids = [stamp + tail for tail in ("0000aaaaaaaaaaaa", "0000aaaabbbbbbbb", "00zzzzzzzzzzzzzz", "1" * 16)]
    code = (
        "from gitxp.run.core import Run\n"
        f"for rid in {ids!r}:\n"
        "    with Run(experiment='array', params={'task': rid[-1]}, run_id=rid) as run:\n"
        "        run.result(acc=0.5)\n"
    )
    run_python(code, repo)
    out = invoke("ls", "-e", "array", "--columns", "run_id")
    shown = _shown_ids(out.stdout)
    assert sorted(shown) == sorted([ids[0][:19], ids[1][:19], ids[2][:13], ids[3][:11]])
    for prefix, full in zip(sorted(shown), sorted(ids)):
        assert invoke("show", prefix, "--format", "json").exit_code == 0
        assert Store.open(repo).resolve_run(prefix) == full


@pytest.mark.parametrize("how", ["sweep", "compare"])
def test_sweep_summary_and_compare_print_ids_that_resolve(repo: Path, how: str) -> None:
    (repo / "train.py").write_text("import sys\nprint(f'gitxp: acc={float(sys.argv[1]) / 10}')\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "script"], cwd=repo, check=True)
    run = _cli(
        repo,
        "run",
        "-e",
        "s",
        "--grid",
        "x=1,2,3,4",
        "--metric",
        "acc:max",
        "--",
        "python",
        "train.py",
        "{x}",
    )
    assert run.returncode == 0, run.stderr
    ids = [i for i in Store.open(repo).table()["run_id"].to_pylist()]
    if how == "sweep":
        text = run.stdout + run.stderr
    else:
        out = _cli(repo, "compare", ids[0], ids[1])
        assert out.returncode == 0, out.stderr
        text = out.stdout
    universe = sorted(ids)
    for printed in re.findall(r"\b([0-9a-hjkmnp-tv-z]{8,26})\b", text):
        matching = [i for i in universe if i.startswith(printed)]
        if matching:
            assert len(matching) == 1, f"{printed} is ambiguous in: {text}"


def test_dashboard_shows_unique_ids_and_names_curves_by_their_params(repo: Path) -> None:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from gitxp.ui.server import create_app

    stamp = new_run_id()[:10]
    ids = [
        stamp + "0000aaaaaaaaaaa" + c for c in "0123"
    ]  # four runs of one millisecond: 8 or 12 characters collide
    code = (
        "from gitxp.run.core import Run\n"
        f"for n, rid in enumerate({ids!r}):\n"
        "    with Run(experiment='e', params={'lr': [0.1, 0.01][n % 2], 'bs': [16, 32][n // 2], 'k': 1},"
        " run_id=rid) as run:\n"
        "        run.log(step=0, loss=1.0)\n"
    )
    run_python(code, repo)
    client = TestClient(
        create_app(Store.open(repo)), raise_server_exceptions=False, base_url="http://127.0.0.1"
    )
    data = client.get("/api/runs").json()
    shown = data["short_ids"]
    assert sorted(shown.values()) == sorted(ids)  # the same but the last character: all 26 needed
    curves = client.get("/api/curves", params={"runs": ",".join(i[:26] for i in ids)}).json()
    labels = curves["labels"]
    assert len(set(labels.values())) == 4
    assert labels[ids[0]] == "bs=16 lr=0.1" and labels[ids[3]] == "bs=32 lr=0.01"
    assert client.get(f"/api/run/{ids[2]}").json()["short_id"] == ids[2]
    script = (Path(__file__).parents[1] / "gitxp/ui/static/app.js").read_text()
    assert "slice(0, 8)" not in script and "slice(0, 12)" not in script  # ids are cut by the server (shortId)


def test_ids_of_processes_started_together_are_distinct_as_printed(tmp_path: Path) -> None:
    """A job array's tasks: separate processes making their id at the same instant (within a millisecond or a
    few), each with its own random part."""
    at = time.time() + 1.5
    code = f"import time\nfrom gitxp.store.ids import new_run_id\ntime.sleep(max(0, {at} - time.time()))\nprint(new_run_id())"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(12)
    ]
    ids = sorted(p.communicate()[0].strip() for p in procs)
    assert len(set(ids)) == 12
    shown = unique_prefixes(ids, ids)
    assert len(set(shown)) == 12 and all(len([i for i in ids if i.startswith(s)]) == 1 for s in shown)


def test_no_run_id_is_cut_to_a_fixed_width_in_the_code() -> None:
    """A guard for code added later: a run id printed as ``run_id[:12]`` may name several runs (use
    ``store.short_ids`` / ``gitxp.cli.output.short_ids``); a temporary directory's name is not printed."""
    package = Path(__file__).parents[1] / "gitxp"
    cut = re.compile(r"\b(run_id|rid|run\.id|run)\)?\[:\d+\]")
    found = [
        f"{path.relative_to(package.parent)}:{n}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if cut.search(line) and "mkdtemp" not in line
    ]
    assert not found, "\n".join(found)
