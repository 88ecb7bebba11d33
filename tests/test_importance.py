"""Param importance sees conditional params (a run without a param is a level of its own, not a run dropped),
says how many runs it stands on, is bounded in cost (a sample of a large experiment, said so), cached by the
store's state, and the dashboard's sweep page never waits for it."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from conftest import run_python

pytest.importorskip("optuna")

CONDITIONAL = """
import random
import gitxp
rng = random.Random(0)
for i in range(40):
    optim = ["adam", "sgd"][i % 2]
    params = {"optim": optim, "lr": rng.uniform(0.001, 0.1)}
    if optim == "adam":
        params["beta"] = rng.uniform(0.8, 0.99)
        loss = 6.0 + rng.uniform(0, 0.15)
    else:
        params["momentum"] = rng.uniform(0.0, 0.9)
        loss = 1.1 + rng.uniform(0, 0.1)
    with gitxp.start(experiment="cond", params=params, metric="loss:min") as run:
        run.result(loss=loss)
"""


def _shares(output: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+)\s+([01]\.\d{3})\b", output, re.M)}


def test_a_gating_categorical_is_important_and_every_run_is_used(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    run_python(CONDITIONAL, repo)
    out = invoke("show", "-e", "cond", "--importance")
    assert out.exit_code == 0, out.output
    shares = _shares(out.stdout)
    assert set(shares) == {"optim", "lr", "beta", "momentum"}
    assert shares["optim"] > 0.5, out.stdout  # it decides the loss (6.0 vs 1.1); the intersection rule gave 0
    assert "40 runs" in out.stdout and "of 40" not in out.stdout  # every run used, and said so


def test_no_run_with_every_param_is_no_traceback(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    run_python(
        "import gitxp\n"
        "for i in range(12):\n"
        "    params = {'a': i} if i % 2 else {'b': i * 0.5}\n"
        "    with gitxp.start(experiment='split', params=params, metric='y:max') as run:\n"
        "        run.result(y=float(i % 2) * 10 + i * 0.01)\n",
        repo,
    )
    out = invoke("show", "-e", "split", "--importance")
    assert out.exit_code == 0, out.output
    assert "12 runs" in out.stdout and set(_shares(out.stdout)) == {"a", "b"}


def test_a_large_experiment_is_sampled_and_says_so(
    repo: Path, monkeypatch: pytest.MonkeyPatch, invoke
) -> None:  # type: ignore[no-untyped-def]
    run_python(CONDITIONAL, repo)
    monkeypatch.setenv("GITXP_IMPORTANCE_SAMPLE", "25")
    out = invoke("show", "-e", "cond", "--importance")
    assert out.exit_code == 0, out.output
    assert "a sample of 25 of 40 runs" in out.stdout
    again = invoke("show", "-e", "cond", "--importance")
    assert again.stdout == out.stdout  # the same sample: seeded, and cached by the store's state
    assert "cached" not in again.stdout


def test_sweep_page_answers_before_importance_and_it_follows(repo: Path) -> None:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from gitxp.store import Store
    from gitxp.ui.server import create_app

    run_python(CONDITIONAL, repo)
    app = create_app(Store.open(repo))
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1") as client:
        page = client.get("/api/sweep", params={"experiment": "cond"}).json()
        assert page["trials"] and page["importance"].get("pending") is True  # not computed in the request
        deadline = time.monotonic() + 120
        while True:
            answer = client.get("/api/importance", params={"experiment": "cond"}).json()
            if not answer.get("pending") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert answer["values"]["optim"] > 0.5 and answer["runs"] == 40, answer
        cached = client.get("/api/sweep", params={"experiment": "cond"}).json()["importance"]
        assert cached["values"] == answer["values"]  # the second visit: from the cache
    assert json.dumps(answer)  # JSON all the way


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def test_a_computation_nobody_waits_for_is_stopped(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitxp.store import Store
    from gitxp.ui import background

    run_python(CONDITIONAL, repo)
    monkeypatch.setattr(background, "ABANDONED_AFTER", 0.3)
    jobs = background.ImportanceJobs(Store.open(repo))
    assert jobs.status("cond", ("loss", "min")) == {"pending": True}
    (job,) = jobs._jobs.values()
    deadline = time.monotonic() + 10
    while jobs.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert jobs.running() == 0 and job.proc.returncode is not None and job.proc.returncode < 0  # killed
    assert jobs.status("cond", ("loss", "min")) == {"pending": True}  # asked again: computed again
    jobs.stop_all()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc for the server's children")
def test_the_server_stops_at_once_on_sigterm_with_a_computation_running(repo: Path) -> None:
    import signal
    import urllib.request

    pytest.importorskip("uvicorn")
    from ui_helpers import start_ui

    run_python(CONDITIONAL, repo)
    proc, url = start_ui(repo)
    try:
        with urllib.request.urlopen(f"{url}/api/sweep?experiment=cond", timeout=30) as resp:
            assert json.load(resp)["importance"] == {"pending": True}
        children = _children(proc.pid)
        assert children  # the computation, in a process of its own, still under way (importing Optuna alone
        # takes longer than this)
        assert all(Path(f"/proc/{c}").exists() for c in children)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        time.sleep(0.2)
        assert (
            not [  # stopped with the server, not left to finish (nor orphaned)
                c
                for c in children
                if Path(f"/proc/{c}").exists() and "Z" not in Path(f"/proc/{c}/stat").read_text().split()[2]
            ]
        )
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_code_version_is_a_factor_of_its_own_when_runs_span_versions(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """The score moved with a new model (v2), lr barely matters: pooled, lr alone took the whole share."""
    import subprocess

    script = (
        "import random, sys\nimport gitxp\nrng = random.Random(int(sys.argv[1]))\n"
        "base = {base}\n"
        "for i in range(16):\n"
        "    lr = [0.01, 0.02, 0.05, 0.1][i % 4]\n"
        "    with gitxp.start(experiment='model', params={{'lr': lr}}, metric='acc:max') as run:\n"
        "        run.result(acc=base + lr * 0.1 + rng.uniform(0, 0.01))\n"
    )
    for step, base in enumerate((0.5, 0.9)):
        (repo / "train.py").write_text(script.format(base=base))
        subprocess.run(["git", "add", "train.py"], cwd=repo, check=True)
        subprocess.run(["git", "commit", "-qm", f"model v{step + 1}"], cwd=repo, check=True)
        run_python((repo / "train.py").read_text().replace("int(sys.argv[1])", str(step)), repo)
    out = invoke("show", "-e", "model", "--importance")
    assert out.exit_code == 0, out.output
    assert "32 runs); 2 code versions, a factor of their own: (code version)" in out.stdout, out.stdout
    shares = {
        m.group(1): float(m.group(2)) for m in re.finditer(r"^(.+?)\s+([01]\.\d{3})\b", out.stdout, re.M)
    }
    assert shares["(code version)"] > 0.8 and shares["lr"] < 0.2, out.stdout


def test_importance_without_a_metric_names_the_results_to_choose_from(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    run_python(
        "import gitxp\nfor i in range(4):\n"
        "    with gitxp.start(experiment='plain', params={'lr': i / 10}) as run:\n"
        "        run.result(acc=i / 4)\n",
        repo,
    )
    out = invoke("show", "-e", "plain", "--importance")
    assert out.exit_code == 2 and "e.g. --metric acc:max" in out.output and "their results: acc" in out.output
    assert out.output.count("\n") == 1
