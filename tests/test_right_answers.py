"""Issue 7, wrong or silent answers: compare never pools experiments, unknown metric names are errors, sweep
tables rank only by a known objective, grid specs that would silently shrink are refused, --dry-run, and rerun
refuses what it cannot run or compare."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import git
from test_wrapper import write

import gitxp


def _record(experiment: str, values: list[float], name: str = "fitness") -> None:
    for value in values:
        with gitxp.start(experiment=experiment, params={"x": value}) as run:
            run.result({name: value})


def _two_branches(repo: Path) -> None:
    """main: 20 runs of 'trivial' (fitness 1..20) and 6 of 'iris' (~0.90); feature: 6 of 'iris' (~0.95)."""
    _record("trivial", [float(v) for v in range(1, 21)])
    _record("iris", [0.90, 0.91, 0.89, 0.90, 0.92, 0.88])
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "train.py").write_text("print('better')\n")
    git(repo, "commit", "-qam", "better")
    _record("iris", [0.95, 0.96, 0.94, 0.95, 0.97, 0.93])


def test_compare_never_pools_experiments(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    _two_branches(repo)
    result = invoke("compare", "main", "feature", "--metric", "fitness:max", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["kind"] == "experiments"
    blocks = {b["experiment"]: b for b in report["experiments"]}
    # feature has no runs of 'trivial': its newest version with runs of it is main's own
    assert blocks["trivial"]["note"].startswith("main and feature are both version")
    iris = blocks["iris"]["metrics"][0]
    assert [g["runs"] for g in iris["groups"]] == [6, 6]
    assert iris["differences"][0]["verdict"] == "feature is better than main"  # pooled, it said "worse"
    assert iris["differences"][0]["mean_diff"] > 0
    table = invoke("compare", "main", "feature", "--metric", "fitness:max")
    assert (
        "== experiment iris" in table.output
        and "== experiment trivial: main and feature are both" in table.output
    )
    assert "feature is better than main" in table.output and "worse" not in table.output


def test_compare_scoped_to_one_experiment(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    _two_branches(repo)
    report = json.loads(invoke("compare", "main", "feature", "-e", "iris", "--format", "json").output)
    assert report["experiment"] == "iris" and [g["runs"] for g in report["groups"]] == [6, 6]
    filtered = invoke(
        "compare", "main", "feature", "-e", "iris", "--where", "fitness > 0.9", "--format", "json"
    )
    assert [g["runs"] for g in json.loads(filtered.output)["groups"]] == [2, 6]
    typo = invoke("compare", "main", "feature", "-e", "irsi")
    assert (
        typo.exit_code == 2
        and "unknown experiment 'irsi'" in typo.output
        and "did you mean iris" in typo.output
    )


def test_unknown_metric_is_an_error_with_a_suggestion(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    _two_branches(repo)
    result = invoke("compare", "main", "feature", "--metric", "fitnes")
    assert result.exit_code == 2
    assert "unknown metric 'fitnes'" in result.output and "did you mean fitness" in result.output
    assert result.output.count("\n") == 1
    ls = invoke("ls", "-e", "trivail")
    assert ls.exit_code == 2 and "did you mean trivial" in ls.output


SCRIPT = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.0)
a = p.parse_args()
print(f"fitness: {-(a.x - 0.3) ** 2}")
"""


def test_sweep_with_a_typo_in_its_metric_stops_searching_and_exits_2(repo: Path) -> None:
    write(repo, "f.py", SCRIPT)
    proc = subprocess.run(
        [sys.executable, "-m", "gitxp", "run", "--sample", "x=uniform(0,1)", "-n", "8", "--strategy", "tpe",
         "--metric", "fitnes:max", "--seed", "1", "--", sys.executable, "f.py", "--x", "0"],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "finished without the result 'fitnes'" in proc.stderr and "did you mean fitness" in proc.stderr
    assert "cannot search blind" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("gitxp: error: --metric 'fitnes': no finished run")
    assert gitxp.load().num_rows < 8  # no informed proposals after the first result showed the typo


def test_sweep_table_is_ranked_only_by_a_known_objective(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "f.py", SCRIPT)
    result = invoke("run", "--grid", "x=0,0.3,0.9", "--", sys.executable, "f.py", "--x", "0")
    assert result.exit_code == 0, result.output
    assert "top runs by fitness (max)" in result.output
    table = result.output.split("top runs by fitness (max)", 1)[1]
    lines = [line for line in table.splitlines() if " finished " in line]
    assert "0.3" in lines[0]  # the best run first, not the first launched
    write(repo, "g.py", "import sys\nprint('gitxp: speed=' + sys.argv[1])\n")
    other = invoke("run", "--grid", "v=1,3,2", "--", sys.executable, "g.py", "{v}")
    assert other.exit_code == 0, other.output
    assert "top runs" not in other.output and "runs (in launch order" in other.output


def test_malformed_grid_spec_and_dry_run(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "f.py", SCRIPT)
    for spec in ("0.001:0.01:0.003", "5:1:1"):
        bad = invoke("run", "--grid", f"x={spec}", "--", sys.executable, "f.py", "--x", "0")
        assert bad.exit_code == 2 and spec in bad.output, bad.output
    plan = invoke(
        "run", "--grid", "x=0:0.1:1", "--grid", "y=a,b", "--allow-unused", "--dry-run",
        "--", sys.executable, "f.py", "--x", "0",
    )  # fmt: skip
    assert plan.exit_code == 0, plan.output
    assert "dry run: 22 runs (grid, -j 1)" in plan.output
    assert "#1 x=0.0 y='a'" in plan.output and "... and 17 more" in plan.output
    assert gitxp.load().num_rows == 0  # nothing ran, nothing recorded


def test_rerun_refuses_a_function_defined_interactively(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    code = textwrap.dedent(
        """
        import gitxp
        @gitxp.experiment
        def f(a=1):
            return {"acc": 0.5}
        f()
        """
    )
    proc = subprocess.run([sys.executable, "-"], input=code, cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    row = gitxp.load().to_pylist()[0]
    assert row["meta.entrypoint"] == "<stdin>:f"
    result = invoke("rerun", row["run_id"])
    assert result.exit_code == 2
    assert "was recorded from an interactive session" in result.output and "cannot be re-run" in result.output
    assert gitxp.load().num_rows == 1  # nothing was started


def test_verify_compares_the_runs_own_results_only(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    _record("other", [1.0], name="loss")  # another experiment's result column
    write(repo, "v.py", "print('gitxp: acc=0.75')\n")
    assert invoke("run", "-e", "v", "--", sys.executable, "v.py").exit_code == 0
    run_id = gitxp.load(experiment="v")["run_id"][0].as_py()
    result = invoke("rerun", run_id, "--verify", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert [r["result"] for r in report["results"]] == ["acc"] and report["match"]


def test_warnings_are_one_clean_line(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    (repo / "blob.bin").write_bytes(
        bytes(range(256)) * 4
    )  # an untracked binary file: kept by hash, with a warning
    write(repo, "w.py", "print('gitxp: acc=0.5')\n")
    result = invoke("run", "--", sys.executable, "w.py")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "blob.bin" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: untracked binary file blob.bin")
    assert "click" not in result.output and "GitxpWarning" not in result.output
