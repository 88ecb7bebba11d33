"""`gitxp bisect`: real histories, real runs in temporary worktrees, the first bad commit found in log2 steps."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git
from test_wrapper import GITXP

import gitxp

TRAIN = """\
import json, os, random, time
time.sleep(float(os.environ.get("SLOW", "0")))
level = float(open("level.txt").read())
seed = int(os.environ.get("GITXP_SEED", "0"))
scale = json.loads(os.environ.get("GITXP_PARAMS") or "{}").get("scale", 1)
noise = random.Random(seed).gauss(0, 0.01)
print(f"gitxp: acc={level * scale + noise}")
print(f"gitxp: loss={1 - level * scale + noise}")
"""


def history(root: Path, n: int, *, drop_at: int, broken_at: int | None = None) -> list[str]:
    """A repository whose good end is commit 0 followed by n commits; commit ``drop_at`` lowers the metric (acc
    from 0.9 to 0.8) and commit ``broken_at`` does not run (the next one repairs it). Returns every sha."""
    root.mkdir()
    git(root, "init", "-q")
    (root / "train.py").write_text(TRAIN)
    (root / "level.txt").write_text("0.9\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "good end")
    level = "0.9\n"
    for i in range(1, n + 1):
        with open(root / "notes.txt", "a") as notes:
            notes.write(f"note {i}\n")
        if i == drop_at:
            level = "0.8\n"
        (root / "level.txt").write_text("not a number\n" if i == broken_at else level)
        git(root, "add", ".")
        git(root, "commit", "-qm", f"change {i}" + (" (lowers acc)" if i == drop_at else ""))
    return git(root, "rev-list", "--reverse", "HEAD").split()


def gitxp_cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GITXP, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def user_state(repo: Path) -> dict[str, str]:
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "branch", "--show-current"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "diff": git(repo, "diff"),
        "cached": git(repo, "diff", "--cached"),
        "stash": git(repo, "stash", "list"),
        "stash_top": git(repo, "for-each-ref", "refs/stash"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "level": (repo / "level.txt").read_text(),
    }


def runs_of(repo: Path, experiment: str) -> list[dict]:
    return gitxp.load(experiment, path=str(repo)).to_pylist()


def test_bisect_finds_the_commit_in_log2_steps_and_touches_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    shas = history(repo, 19, drop_at=12)
    # the user is in the middle of something: a stash, a staged change, an unstaged one, an untracked file
    (repo / "notes.txt").write_text("stashed\n")
    git(repo, "stash", "-q")
    (repo / "level.txt").write_text("0.1\n")  # an unstaged edit that must not leak into any measurement
    (repo / "train.py").write_text(TRAIN + "# staged\n")
    git(repo, "add", "train.py")
    (repo / "scratch.txt").write_text("mine\n")
    before = user_state(repo)

    plan = gitxp_cli(repo, "bisect", "--good", "HEAD~19", "--bad", "HEAD", "--metric", "acc:max", "--dry-run",
                     "--", sys.executable, "train.py")  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert "19 commits after the good end" in plan.stdout and "about 6 commits tested" in plan.stdout
    assert not (repo / ".git" / "gitxp" / "bisect").exists()  # a dry run runs and saves nothing

    proc = gitxp_cli(repo, "bisect", "--good", "HEAD~19", "--bad", "HEAD", "--metric", "acc:max", "--format",
                     "json", "--", sys.executable, "train.py")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["result"] == "found"
    assert out["first_bad"]["sha"] == shas[12] and out["first_bad"]["subject"] == "change 12 (lowers acc)"
    assert out["first_bad"]["author"] == "Test User <test@example.com>"
    assert "level.txt | 2 +-" in out["first_bad"]["diffstat"]
    assert out["tested_commits"] <= math.ceil(math.log2(20)) + 1
    assert out["new_runs"] == 3 * out["tested_commits"] and out["reused_runs"] == 0
    by_sha = {row["sha"]: row for row in out["tested"]}
    assert by_sha[shas[12]]["verdict"] == "bad" and by_sha[shas[0]]["verdict"] == "good end"
    for row in out["tested"]:  # each tested commit: its mean with a CI; the difference with a CI
        expected = 0.8 if shas.index(row["sha"]) >= 12 else 0.9
        assert row["ci95"][0] <= row["mean"] <= row["ci95"][1] and abs(row["mean"] - expected) < 0.03
        if row["verdict"] == "bad":
            assert row["diff_ci95"][1] < 0
    assert user_state(repo) == before  # checkout, index, stash, untracked files, worktrees: as they were
    runs = runs_of(repo, out["experiment"])  # ordinary runs, each on the exact commit it measured
    assert len(runs) == out["new_runs"] and {r["status"] for r in runs} == {"finished"}
    assert {r["commit"] for r in runs} == set(by_sha) and all(r["version"] == r["commit"][:7] for r in runs)

    # everything again: every commit already has its 3 runs, so nothing new runs
    again = gitxp_cli(repo, "bisect", "--good", shas[0], "--bad", shas[-1], "--metric", "acc:max",
                      "--format", "json", "--", sys.executable, "train.py")  # fmt: skip
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["first_bad"]["sha"] == shas[12] and second["new_runs"] == 0
    assert second["reused_runs"] == 3 * second["tested_commits"]
    assert {r["experiment"] for r in gitxp.load(path=str(repo)).to_pylist()} == {out["experiment"]}
    assert user_state(repo) == before


def test_a_commit_that_does_not_run_is_skipped_and_a_recorded_run_is_measured(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    shas = history(repo, 8, drop_at=6, broken_at=4)
    recorded = gitxp_cli(
        repo, "run", "-e", "train", "-p", "scale=1.0", "--allow-unused", "--", sys.executable, "train.py"
    )
    assert recorded.returncode == 0, recorded.stderr
    run_id = gitxp.load("train", path=str(repo)).to_pylist()[0]["run_id"]

    proc = gitxp_cli(repo, "bisect", "--good", shas[0], "--bad", "HEAD", "--metric", "loss:min", "--format",
                     "json", run_id[:10])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["result"] == "found" and out["first_bad"]["sha"] == shas[6]
    broken = next(row for row in out["tested"] if row["sha"] == shas[4])
    assert broken["verdict"] == "skip" and "exited with code 1" in broken["reason"]
    assert broken["new_runs"] == 1  # the first failure gives the commit up: no point running it twice more
    assert f"{shas[4][:7]} skipped" in proc.stderr
    runs = runs_of(repo, out["experiment"])
    assert all(r["params.scale"] == 1.0 and r["meta.bisect.source_run"] == run_id for r in runs)
    assert {r["status"] for r in runs if r["commit"] == shas[4]} == {"failed"}

    # the broken commit next to the bad one: the first bad commit cannot be told apart
    repo2 = tmp_path / "second"
    shas2 = history(repo2, 4, drop_at=3, broken_at=2)
    proc = gitxp_cli(repo2, "bisect", "--good", shas2[0], "--bad", shas2[-1], "--metric", "acc:max",
                     "--repeat", "2", "--format", "json", "--", sys.executable, "train.py")  # fmt: skip
    out = json.loads(proc.stdout)
    assert proc.returncode == 1 and out["result"] == "ambiguous"
    assert out["candidates"] == [shas2[2], shas2[3]]


def test_no_regression_when_the_bad_end_is_not_worse(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    shas = history(repo, 3, drop_at=99)
    proc = gitxp_cli(repo, "bisect", "--good", shas[0], "--bad", shas[-1], "--metric", "acc:max", "--repeat",
                     "2", "--", sys.executable, "train.py")  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "no regression" in proc.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_bisect_resumes_where_it_stopped(tmp_path: Path, sig: int) -> None:
    repo = tmp_path / "project"
    shas = history(repo, 19, drop_at=5)
    before = user_state(repo)
    proc = subprocess.Popen(
        [*GITXP, "bisect", "--good", shas[0], "--bad", shas[-1], "--metric", "acc:max", "--", sys.executable,
         "train.py"],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "SLOW": "0.3"},
    )  # fmt: skip
    folder = repo / ".git" / "gitxp" / "bisect"
    deadline = time.time() + 120
    measured = 0
    while time.time() < deadline and measured < 2:
        time.sleep(0.2)
        current = folder / "current"
        if current.exists():
            state = json.loads((folder / f"{current.read_text().strip()}.json").read_text())
            measured = len(state["measured"])
    time.sleep(0.5)  # into the third commit's runs
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    state = json.loads((folder / f"{(folder / 'current').read_text().strip()}.json").read_text())
    assert not state["done"] and len(state["measured"]) >= 2
    if sig == signal.SIGINT:  # Ctrl-C: stopped cleanly, the temporary worktree removed at once
        assert proc.returncode == 130, err
        assert "gitxp bisect --resume" in err
        assert user_state(repo) == before
    else:  # kill -9: the state saved after each commit is all there is; its worktree is left for the resume
        assert proc.returncode == -signal.SIGKILL

    resumed = gitxp_cli(repo, "bisect", "--resume", "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["id"] == state["id"] and out["result"] == "found" and out["first_bad"]["sha"] == shas[5]
    assert f"resuming bisect {state['id']} ({len(state['measured'])} commits measured)" in resumed.stderr
    finished = [r for r in runs_of(repo, out["experiment"]) if r["status"] == "finished"]
    assert len(finished) == 3 * out["tested_commits"]  # no commit measured twice, no finished run wasted
    assert out["tested_commits"] <= math.ceil(math.log2(20)) + 1
    assert user_state(repo) == before
    # resuming a finished bisect prints its result again
    assert json.loads(gitxp_cli(repo, "bisect", "--resume", "--format", "json").stdout)["id"] == state["id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--good", "nope", "--bad", "HEAD", "--metric", "acc:max"], "--good 'nope' is not a commit"),
        (["--good", "HEAD", "--bad", "HEAD~2", "--metric", "acc:max"], "is not an ancestor of --bad"),
        (["--good", "HEAD~2", "--bad", "HEAD", "--metric", "acc"], None),  # acc: max implied by its name
        (["--good", "HEAD~2", "--bad", "HEAD", "--metric", "value"], "say which way is worse"),
        (["--good", "HEAD~2", "--bad", "HEAD", "--metric", "acc:max", "--repeat", "1"], "at least 2"),
        (["--good", "HEAD~2", "--metric", "acc:max"], "missing --bad"),
        (["--good", "HEAD~2", "--bad", "HEAD", "--metric", "accc:max"], "did you mean acc"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str | None) -> None:
    repo = tmp_path / "project"
    history(repo, 2, drop_at=99)
    proc = gitxp_cli(repo, "bisect", *args, "--repeat" if "--repeat" not in args else "--jobs", "2", "--",
                     sys.executable, "train.py")  # fmt: skip
    if message is None:
        assert proc.returncode == 1 and "no regression" in proc.stdout, proc.stderr
        return
    assert proc.returncode == 2, proc.stdout
    last = proc.stderr.splitlines()[-1]  # (an unknown metric is known only once the good end ran)
    assert last.startswith("gitxp: error: ") and message in last, proc.stderr
    assert proc.stderr.count("gitxp: error") == 1 and "Traceback" not in proc.stderr


def test_resume_without_a_bisect_and_the_python_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "project"
    shas = history(repo, 4, drop_at=2)
    proc = gitxp_cli(repo, "bisect", "--resume")
    assert proc.returncode == 2 and "no bisect to resume" in proc.stderr
    monkeypatch.chdir(repo)
    lines: list[str] = []
    out = gitxp.bisect(shas[0], shas[-1], "acc:max", command=[sys.executable, "train.py"], repeat=2, jobs=2,
                       say=lines.append)  # fmt: skip
    assert out["result"] == "found" and out["first_bad"]["sha"] == shas[2]
    assert any("bad" in line for line in lines)
    runs = runs_of(repo, out["experiment"])  # -j 2: both repeats of a commit at once, seeds 0 and 1
    assert len(runs) == out["new_runs"] and sorted({r["meta.bisect.repeat"] for r in runs}) == [0, 1]


def _simulate(n: int, first_bad: int, skipped: set[int] = frozenset()) -> tuple[object, list[int]]:  # type: ignore[assignment]
    from gitxp.bisection.search import next_step

    verdicts: dict[int, str] = {}
    tested = []
    while (step := next_step(n, verdicts)).kind == "test":
        assert step.at is not None and step.at not in verdicts
        tested.append(step.at)
        verdicts[step.at] = "skip" if step.at in skipped else "bad" if step.at >= first_bad else "good"
    return step, tested


def test_search_finds_every_first_bad_position_in_log2_steps() -> None:
    from gitxp.bisection.search import expected_steps

    for n in range(1, 41):
        for first_bad in range(1, n + 1):
            step, tested = _simulate(n, first_bad)
            assert step.kind == "found" and step.at == first_bad
            # the good end + ceil(log2 n); +1 only when the answer is the bad end itself (then it is confirmed)
            assert len(tested) <= expected_steps(n) + (first_bad == n), (n, first_bad, tested)
    assert expected_steps(19) == 6 and expected_steps(20) == 6


def test_search_steps_around_skipped_commits() -> None:
    step, tested = _simulate(19, 12, skipped={9, 10, 14})
    assert step.kind == "found" and step.at == 12 and {9, 10} <= set(tested)  # tried, skipped, stepped around
    step, _ = _simulate(19, 12, skipped={11})  # a skipped commit right before the first bad one
    assert step.kind == "ambiguous" and step.among == (11, 12)
    step, _ = _simulate(5, 99)  # nothing got worse: the bad end is measured and found fine
    assert step.kind == "no-regression"
