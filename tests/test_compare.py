"""`gitxp compare` of branches, versions and runs; `ls --since` and `ls --by`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import git
from test_wrapper import write

import gitxp
from gitxp.compare import bootstrap_ci

NOISY = """
import argparse, random
p = argparse.ArgumentParser()
p.add_argument("--seed", type=int, default=0)
p.add_argument("--lr", type=float, default=0.1)
a = p.parse_args()
random.seed(a.seed)
print(f"gitxp: acc={BASE + random.gauss(0, 0.01)}")
"""


@pytest.fixture
def branches(repo: Path, invoke) -> Path:  # type: ignore[no-untyped-def]
    write(repo, "t.py", "BASE = 0.80\n" + NOISY)
    assert (
        invoke(
            "run", "--grid", "seed=0:5", "--metric", "acc:max", "--", sys.executable, "t.py", "--seed", "0"
        ).exit_code
        == 0
    )
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "t.py").write_text("BASE = 0.83\n" + NOISY)
    git(repo, "commit", "-qam", "better model")
    assert (
        invoke(
            "run",
            "--grid",
            "seed=0:5",
            "--grid",
            "lr=0.1,0.2",
            "--metric",
            "acc:max",
            "--",
            sys.executable,
            "t.py",
            "--seed",
            "0",
            "--lr",
            "0.1",
        ).exit_code
        == 0
    )
    return repo


def test_compare_branches_json(branches: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("compare", "main", "feature", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [g["runs"] for g in report["groups"]] == [6, 12]
    metric = report["metrics"][0]
    assert metric["name"] == "acc" and metric["goal"] == "max"
    main, feature = metric["groups"]
    assert feature["mean"] - main["mean"] == pytest.approx(0.03, abs=1e-9)
    assert main["best_run"] in report["groups"][0]["run_ids"]
    diff = metric["differences"][0]
    assert diff["ci95"][0] > 0 and diff["verdict"] == "feature is better than main"
    assert report["params"] == [
        {
            "name": "lr",
            "values": {"main": [], "feature": ["0.1", "0.2"]},
            "counts": {"main": [], "feature": [["0.1", 6], ["0.2", 6]]},
        }
    ]
    table = invoke("compare", "main", "feature").output
    assert "0.1 (6 runs), 0.2 (6 runs)" in table  # every value of a group, with its run count


def test_compare_branches_csv_and_markdown(branches: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    csv_lines = invoke("compare", "main", "feature", "--format", "csv").output.strip().splitlines()
    assert csv_lines[0] == "experiment,metric,group,runs,best,mean,std,median,best_run"
    assert csv_lines[1].split(",")[1:4] == ["acc", "main", "6"]
    assert csv_lines[2].split(",")[1:4] == ["acc", "feature", "12"]
    markdown = invoke("compare", "main", "feature", "--format", "markdown", "--code").output
    assert "| group | runs | best | mean | std | median | best run |" in markdown
    assert "|---|---|---|---|---|---|---|" in markdown
    assert "feature is better than main" in markdown
    assert "```diff" in markdown and "t.py | 2 +-" in markdown
    table = invoke("compare", "main", "feature", "--code", "--full").output
    assert "-BASE = 0.80" in table and "+BASE = 0.83" in table


def test_compare_by_commit_tag_and_version(branches: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    git(branches, "tag", "v1", "main")
    versions = gitxp.load()["version"].to_pylist()
    result = invoke("compare", "v1", versions[0], "--format", "json")
    assert result.exit_code == 0, result.output
    assert [g["kind"] for g in json.loads(result.output)["groups"]] == ["tag", "version"]
    main = git(branches, "rev-parse", "main")
    result = invoke("compare", main, versions[0], "--format", "json")
    assert [g["kind"] for g in json.loads(result.output)["groups"]] == ["commit", "version"]
    same = json.loads(invoke("compare", "v1", versions[-1], "--format", "json").output)
    assert (
        same["experiments"][0]["note"]
        == f"v1 and {versions[-1]} are both version {versions[-1]}: nothing to compare"
    )
    assert invoke("compare", "main").exit_code == 2
    bad = invoke("compare", "main", "nonexistent-thing")
    assert bad.exit_code == 2 and "not a run id, version, branch, tag or commit" in bad.output


def test_compare_two_runs_with_dirty_diffs(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "m.py", "import sys\nprint('gitxp: acc=0.5 loss=1')\n")
    (repo / "m.py").write_text("import sys\nprint('gitxp: acc=0.6 loss=1')\n")
    invoke("run", "-p", "lr=0.1", "--allow-unused", "--", sys.executable, "m.py")
    (repo / "m.py").write_text("import sys\nprint('gitxp: acc=0.7 loss=1')\n")
    (repo / "extra.py").write_text("x = 1\n")
    invoke("run", "-p", "lr=0.2", "--allow-unused", "--", sys.executable, "m.py")
    a, b = gitxp.load(sort="started")["run_id"].to_pylist()
    report = json.loads(invoke("compare", a, b, "--code", "--format", "json").output)
    keys = {row["key"]: row for row in report["rows"]}
    assert keys["params.lr"]["values"] == [0.1, 0.2] and keys["results.acc"]["values"] == [0.6, 0.7]
    assert "results.loss" not in keys  # constant: hidden
    assert keys["version"]["differs"]
    assert "extra.py" in report["code"][0]["diff"] and "m.py" in report["code"][0]["diff"]
    shown = json.loads(invoke("compare", a, b, "--all", "--format", "json").output)
    assert "results.loss" in {row["key"] for row in shown["rows"]}
    markdown = invoke("compare", a, b, "--format", "markdown").output
    assert "| results.acc | **0.6** | **0.7** |" in markdown


def test_ls_since_and_by(branches: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    main_commit = git(branches, "rev-parse", "main")
    since = json.loads(invoke("ls", "--since", "feature", "--format", "json").output)
    assert len(since) == 12 and all(r["branch"] == "feature" for r in since)
    assert len(json.loads(invoke("ls", "--since", main_commit, "--format", "json").output)) == 18
    grouped = json.loads(invoke("ls", "--by", "branch", "--format", "json").output)
    assert {g["branch"]: g["runs"] for g in grouped} == {"main": 6, "feature": 12}
    assert all(g["objective"] == "acc:max" and g["best"] >= g["mean"] for g in grouped)
    assert invoke("ls", "--since", "nope").exit_code == 2


def test_bootstrap_interval() -> None:
    assert bootstrap_ci([1.0], [2.0, 3.0]) is None
    low, high = bootstrap_ci([0.0, 0.1, -0.1, 0.05] * 5, [1.0, 1.1, 0.9, 1.05] * 5)
    assert 0.8 < low < 1.0 < high < 1.2


def test_bootstrap_of_large_groups_agrees_with_resampling_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above BOOTSTRAP_EXACT values a side's resampled means come from their normal limit: the interval is
    the one resampling every value gives, within the Monte-Carlo error of the bootstrap itself."""
    import random

    import gitxp.compare.stats as compare

    rng = random.Random(5)
    a = [rng.expovariate(1.0) for _ in range(12_000)]  # skewed, as accuracies near a bound are
    b = [rng.expovariate(1.0) + 0.08 for _ in range(15_000)]
    limit = compare.bootstrap_ci(a, b, samples=2000)
    monkeypatch.setattr(compare, "BOOTSTRAP_EXACT", 10**9)
    exact = compare.bootstrap_ci(a, b, samples=2000)
    assert limit is not None and exact is not None
    width = exact[1] - exact[0]
    assert abs(limit[0] - exact[0]) < 0.1 * width and abs(limit[1] - exact[1]) < 0.1 * width
    assert limit[0] > 0 and exact[0] > 0  # both see the 0.08 shift


def test_interval_keeps_its_false_positive_rate_with_few_runs() -> None:
    """Two samples of the same distribution: a 95% interval may call them different ~5% of the time. A bare
    percentile bootstrap of 3 runs a side does so ~20% of the time; gitxp's interval (never narrower than
    Welch's t interval) must stay near the nominal rate. Seeded, so the figure is the same on every machine."""
    import numpy as np

    from gitxp.compare import bootstrap_ci

    rng = np.random.default_rng(3)
    called = 0
    trials = 300
    for trial in range(trials):
        a, b = rng.normal(size=3).tolist(), rng.normal(size=3).tolist()
        low, high = bootstrap_ci(a, b, samples=500, seed=trial)
        called += low > 0 or high < 0
    assert called / trials <= 0.07


def test_t_quantile_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    from gitxp.compare.stats import t_quantile_975

    for df in (1, 2, 3, 4, 5, 8, 15, 30, 100, 10_000):
        assert t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), rel=2e-3)
    assert t_quantile_975(3.9) == t_quantile_975(3)  # rounded down: never narrower than the exact interval


def test_a_param_one_side_never_recorded_says_so(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "t.py", "BASE = 0.80\n" + NOISY)
    assert invoke("run", "--grid", "lr=0.1,0.2", "--", sys.executable, "t.py", "--lr", "{lr}").exit_code == 0
    (repo / "t.py").write_text("BASE = 0.83\n" + NOISY)
    git(repo, "commit", "-qam", "v2")
    assert invoke("run", "-n", "2", "--", sys.executable, "t.py").exit_code == 0  # lr left at its default
    out = invoke("compare", "HEAD~1", "HEAD")
    assert out.exit_code == 0, out.output
    row = next(line for line in out.output.splitlines() if line.strip().startswith("lr "))
    assert "0.1 (1 run), 0.2 (1 run)" in row and row.rstrip().endswith("(not recorded)"), out.output
