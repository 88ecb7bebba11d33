"""`gitxp report`: the markdown of a pull request's base vs head, on real runs of real branches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import git
from test_wrapper import GITXP

from gitxp.compare.report import BLOCKS, mark, sparkline

ROOT = Path(__file__).parent.parent
TRAIN = """\
import json, os, random
level = float(open("level.txt").read())
seed = json.loads(os.environ["GITXP_PARAMS"])["seed"]
rng = random.Random(seed)
with open(os.path.join(os.environ["GITXP_OUTPUT_DIR"], "metric_acc.log"), "w") as f:
    for epoch in range(8):
        f.write(f"{epoch}\\t{level * (1 - 0.5 ** (epoch + 1)) + rng.gauss(0, 0.005)}\\n")
print(f"gitxp: acc={level + rng.gauss(0, 0.01)}")
"""


def cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GITXP, *args], cwd=repo, capture_output=True, text=True, env=dict(os.environ))


def record(repo: Path) -> None:
    proc = cli(
        repo,
        "run",
        "-e",
        "train",
        "--grid",
        "seed=0,1,2,3",
        "--allow-unused",
        "--",
        sys.executable,
        "train.py",
    )
    assert proc.returncode == 0, proc.stderr


def project(tmp_path: Path) -> Path:
    """main (acc 0.9), feature (one commit lowers acc to 0.8), docs (a change that does not touch the metric);
    four runs on each, seeds 0-3 on every side."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "train.py").write_text(TRAIN)
    (repo / "level.txt").write_text("0.9\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")
    record(repo)
    git(repo, "checkout", "-qb", "feature")
    (repo / "level.txt").write_text("0.8\n")
    git(repo, "commit", "-qam", "lower acc")
    record(repo)
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-qb", "docs")
    (repo / "README").write_text("docs\n")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "docs only")
    record(repo)
    return repo


def test_report_marks_a_significant_change_and_no_change(tmp_path: Path) -> None:
    repo = project(tmp_path)
    feature = git(repo, "rev-parse", "feature")
    out = tmp_path / "comment.md"
    proc = cli(repo, "report", "--base", "main", "--head", "feature", "--link-base", "https://github.com/o/r/",
               "-o", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "### gitxp: `feature` vs `main`" in text and "**1 worse, 0 better**" in text
    row = next(line for line in text.splitlines() if line.startswith("| acc (max)"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    base_mean, head_mean, diff = (float(cells[i].split()[0]) for i in (1, 2, 3))
    assert abs(base_mean - 0.9) < 0.02 and abs(head_mean - 0.8) < 0.02  # base and head means
    assert abs(diff + 0.1) < 1e-9 and "[" in cells[3]  # the difference (same seeds), with its CI
    assert cells[4] == "🔴 worse" and cells[5] == "4 → 4"
    base_curve, head_curve = cells[6].replace("`", "").split(" → ")
    assert len(base_curve) == len(head_curve) == 8 and set(base_curve + head_curve) <= set(BLOCKS)
    assert base_curve[-1] == "█" and head_curve[-1] < "█"  # one scale: head's curve ends lower
    assert f"[`{feature[:7]}`](https://github.com/o/r/commit/{feature})" in text
    assert cli(repo, "report", "--base", "main", "--head", "feature", "--fail-on-worse").returncode == 1
    # the other way round (against feature's tip: main is feature's merge-base) the same difference is an
    # improvement; a :min metric flips the direction too
    assert "✅ better" in cli(repo, "report", "--base", "feature", "--head", "main", "--base-tip").stdout
    assert (
        "base and head are both version" in cli(repo, "report", "--base", "feature", "--head", "main").stdout
    )
    assert (
        "✅ better"
        in cli(repo, "report", "--base", "main", "--head", "feature", "--metric", "acc:min").stdout
    )

    same = cli(repo, "report", "--base", "main", "--head", "docs", "--fail-on-worse")
    assert same.returncode == 0, same.stderr
    assert "⚪ no significant change" in same.stdout and "**0 worse, 0 better**" in same.stdout
    data = json.loads(cli(repo, "report", "--base", "main", "--head", "docs", "--format", "json").stdout)
    row = data["experiments"][0]["rows"][0]
    assert row["mark"] == "same" and row["ci95"][0] <= 0 <= row["ci95"][1] and row["head_runs"] == 4

    typo = cli(repo, "report", "--base", "main", "--head", "feature", "--metric", "acx")
    assert typo.returncode == 2 and "did you mean acc" in typo.stderr and typo.stderr.count("\n") == 1
    nowhere = cli(repo, "report", "--base", "nope", "--head", "feature")
    assert nowhere.returncode == 2 and "'nope'" in nowhere.stderr


def test_sparkline_and_mark() -> None:
    assert sparkline([0, 1, 2, 3], 0, 3) == "▁▃▆█"
    assert len(sparkline(list(range(100)), 0, 99, width=16)) == 16
    assert sparkline([5, 5], 5, 5) == "▁▁"
    assert mark([0.1, 0.2], "max") == "better" and mark([0.1, 0.2], "min") == "worse"
    assert mark([-0.1, 0.2], "max") == "same" and mark(None, "max") is None


def test_ci_recipe_reports_a_pull_request_against_the_pulled_runs(tmp_path: Path) -> None:
    """examples/ci/pr-report.sh as a CI job runs it: a fresh clone on the PR head (detached, no local main),
    the base's runs only on the remote."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gitxp").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitxp "$@"\n')
    (bin_dir / "gitxp").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    dev = tmp_path / "dev"
    dev.mkdir()
    git(dev, "init", "-q")
    (dev / "train.py").write_text(TRAIN.replace('["seed"]', '.get("seed", 0)'))
    (dev / "level.txt").write_text("0.9\n")
    git(dev, "add", ".")
    git(dev, "commit", "-qm", "start")
    assert cli(dev, "run", "-e", "train", "--grid", "seed=0,1,2", "--allow-unused", "--", sys.executable,
               "train.py").returncode == 0  # fmt: skip
    git(dev, "remote", "add", "origin", str(remote))
    git(dev, "push", "-q", "origin", "main")
    assert cli(dev, "push", "origin").returncode == 0

    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(remote), str(ci))
    (ci / "level.txt").write_text("0.8\n")
    git(ci, "commit", "-qam", "pr: lower acc")
    git(ci, "checkout", "-q", "--detach")
    git(ci, "branch", "-D", "main")
    proc = subprocess.run(
        ["bash", str(ROOT / "examples" / "ci" / "pr-report.sh"), "train", "--", sys.executable, "train.py"],
        cwd=ci,
        env={**env, "BASE": "main", "FAIL_ON_WORSE": "1", "LINK_BASE": "https://example.invalid/o/r"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # --fail-on-worse: the PR lowers acc
    assert "merged 3 new runs from origin" in proc.stdout
    text = (ci / "gitxp-report.md").read_text()
    assert "🔴 worse" in text and "| 3 → 3 |" in text
    assert f"https://example.invalid/o/r/commit/{git(ci, 'rev-parse', 'HEAD')}" in text


def test_github_actions_example_is_a_workflow_doing_the_recipe() -> None:
    import yaml

    workflow = yaml.safe_load((ROOT / "examples" / "github-actions" / "gitxp-report.yml").read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    steps = workflow["jobs"]["report"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    for needed in ("gitxp pull origin", "gitxp run -e train", "gitxp report --base", "gh pr comment"):
        assert needed in script
    assert any(step.get("uses", "").startswith("actions/checkout") for step in steps)
