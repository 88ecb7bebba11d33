"""`gitxp rerun`: the exact old code, overrides, verification, and the ways it can fail."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import git
from test_wrapper import GITXP, write

import gitxp


def latest() -> dict:
    return gitxp.load(sort="-started", limit=1).to_pylist()[0]


def worktrees(repo: Path) -> list[str]:
    return [
        line
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def test_rerun_uses_the_old_code_after_it_moved_on(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "model.py", "FACTOR = 1\n")
    write(
        repo,
        "train.py",
        "import argparse\nfrom model import FACTOR\nfrom helper import BONUS\n"
        "p = argparse.ArgumentParser(); p.add_argument('--lr', type=float, default=1.0)\n"
        "a = p.parse_args()\nprint(f'gitxp: score={a.lr * FACTOR + BONUS}')\n",
    )
    (repo / "model.py").write_text("FACTOR = 10\n")  # modified tracked file, uncommitted
    (repo / "helper.py").write_text("BONUS = 5\n")  # untracked file
    assert invoke("run", "--", sys.executable, "train.py", "--lr", "2").exit_code == 0
    original = latest()
    assert original["results.score"] == 25 and "+d." in original["version"]
    # the code moves on: new commit, helper changed, working tree different
    (repo / "model.py").write_text("FACTOR = 100\n")
    (repo / "helper.py").write_text("BONUS = 0\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "moved on")
    (repo / "model.py").write_text("FACTOR = 1000\n")
    status_before = git(repo, "status", "--porcelain")
    result = invoke("rerun", original["run_id"][:12])
    assert result.exit_code == 0, result.output
    again = latest()
    assert again["results.score"] == 25  # computed by the old code
    assert again["meta.rerun_of"] == original["run_id"] and again["version"] == original["version"]
    assert (
        git(repo, "status", "--porcelain") == status_before
        and (repo / "model.py").read_text() == "FACTOR = 1000\n"
    )
    assert len(worktrees(repo)) == 1 and git(repo, "branch", "--format=%(refname:short)") == "main"
    # with an override, through the argparse flag of the recorded command
    assert invoke("rerun", original["run_id"], "--set", "lr=3").exit_code == 0
    over = latest()
    assert over["results.score"] == 35 and over["params.lr"] == 3
    assert over["meta.rerun.overrides.lr"] == 3
    # --here runs the current code instead
    assert invoke("rerun", original["run_id"], "--here").exit_code == 0
    assert latest()["results.score"] == 2000


def test_rerun_yaml_config_script_with_overrides(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    (repo / "cfg.yaml").write_text("opt:\n  lr: 0.1\n  momentum: 0.9\n")
    write(
        repo,
        "c.py",
        "import sys, yaml\nc = yaml.safe_load(open(sys.argv[1]))['opt']\n"
        "print(f\"gitxp: v={c['lr'] * 10 + c['momentum']}\")\n",
    )
    git(repo, "add", "cfg.yaml")
    git(repo, "commit", "-qm", "cfg")
    assert (
        invoke(
            "run", "--config", "cfg.yaml", "-p", "opt.lr=0.2", "--", sys.executable, "c.py", "{config}"
        ).exit_code
        == 0
    )
    original = latest()
    assert original["results.v"] == 2.9
    result = invoke("rerun", original["run_id"], "--set", "opt.momentum=0.5")
    assert result.exit_code == 0, result.output
    again = latest()
    assert again["results.v"] == 2.5 and again["params.opt.lr"] == 0.2 and again["params.opt.momentum"] == 0.5
    typo = invoke("rerun", original["run_id"], "--set", "opt.moment=1")
    assert typo.exit_code == 2 and "opt.moment" in typo.output


def test_rerun_decorator_run_from_its_entry_point(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "deco.py",
        "import gitxp\n\n@gitxp.experiment(name='deco')\ndef train(lr: float = 0.1, n: int = 2) -> dict:\n"
        "    return {'out': lr * n}\n\nif __name__ == '__main__':\n    train(lr=0.5)\n",
    )
    subprocess.run([sys.executable, "deco.py"], cwd=repo, check=True)
    original = latest()
    assert original["results.out"] == 1.0 and original["meta.entrypoint"] == "deco.py:train"
    (repo / "deco.py").write_text((repo / "deco.py").read_text().replace("lr * n", "lr * n * 100"))
    assert invoke("rerun", original["run_id"]).exit_code == 0
    assert latest()["results.out"] == 1.0 and latest()["experiment"] == "deco"
    assert invoke("rerun", original["run_id"], "--set", "n=4").exit_code == 0
    assert latest()["results.out"] == 2.0
    bad = invoke("rerun", original["run_id"], "--set", "depth=4")
    assert bad.exit_code == 2 and "has no param 'depth'" in bad.output


def test_verify_matching_and_not(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "det.py", "print('gitxp: a=1.5 b=2')\n")
    write(repo, "rnd.py", "import random\nprint(f'gitxp: a={random.random()}')\n")
    invoke("run", "--", sys.executable, "det.py")
    det = latest()["run_id"]
    invoke("run", "--", sys.executable, "rnd.py")
    rnd = latest()["run_id"]
    ok = invoke("rerun", det, "--verify", "--format", "json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output[ok.output.index("{") :])["match"] is True
    bad = invoke("rerun", rnd, "--verify")
    assert bad.exit_code == 1 and "NOT reproduced" in bad.output
    loose = invoke("rerun", rnd, "--verify", "--atol", "1")
    assert loose.exit_code == 0 and "reproduced" in loose.output
    assert invoke("rerun", det, "--verify", "--set", "x=1").exit_code == 2


def test_dry_run_and_keep(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "k.py", "print('gitxp: a=1')\n")
    (repo / "k.py").write_text("print('gitxp: a=2')\n")
    invoke("run", "--", sys.executable, "k.py")
    run_id = latest()["run_id"]
    plan = json.loads(invoke("rerun", run_id, "--dry-run", "--format", "json").output)
    assert plan["rerun_of"] == run_id and plan["patch_files"] == ["k.py"] and plan["command"][-1] == "k.py"
    assert gitxp.load().num_rows == 1  # nothing ran
    kept = invoke("rerun", run_id, "--keep")
    assert kept.exit_code == 0 and len(worktrees(repo)) == 2
    path = Path(kept.output.split("worktree kept at ")[1].split(" ")[0])
    assert (path / "k.py").read_text() == "print('gitxp: a=2')\n"
    git(repo, "worktree", "remove", "--force", str(path))


def test_rerun_when_the_commit_is_gone(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "g.py", "print('gitxp: a=1')\n")
    git(repo, "checkout", "-q", "-b", "doomed")
    (repo / "g.py").write_text("print('gitxp: a=2')\n")
    git(repo, "commit", "-qam", "doomed commit")
    doomed = git(repo, "rev-parse", "HEAD")
    invoke("run", "--", sys.executable, "g.py")
    run_id = latest()["run_id"]
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-qD", "doomed")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    result = invoke("rerun", run_id)
    assert result.exit_code == 2
    assert (
        f"commit {doomed[:12]}" in result.output
        and "git fetch" in result.output
        and "gitxp pull" in result.output
    )


def test_failed_and_interrupted_reruns_remove_the_worktree(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "f.py",
        "import sys, time\nif sys.argv[1] == 'fail': sys.exit(2)\nprint('ready', flush=True)\ntime.sleep(60)\n",
    )
    invoke("run", "--", sys.executable, "f.py", "fail")
    failing = latest()["run_id"]
    assert invoke("rerun", failing).exit_code == 1 and len(worktrees(repo)) == 1
    proc = subprocess.Popen(
        [*GITXP, "run", "--", sys.executable, "f.py", "sleep"], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    while "ready" not in proc.stdout.readline():
        pass
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    sleeper = latest()["run_id"]
    proc = subprocess.Popen([*GITXP, "rerun", sleeper], cwd=repo, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    while "ready" not in proc.stdout.readline():
        pass
    assert len(worktrees(repo)) == 2
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    time.sleep(0.1)
    assert len(worktrees(repo)) == 1
    assert latest()["status"] == "interrupted" and latest()["meta.rerun_of"] == sleeper
