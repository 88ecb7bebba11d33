"""``--executor slurm`` on a real single-node Slurm (Debian's slurm-wlm + munge, daemons on 127.0.0.1).

The cluster is started once per session by ``scripts/slurm-cluster.sh start`` (which installs the packages when
missing, as root). Skipped with the reason only when it cannot be installed or started outside CI; under ``CI=true``
a cluster that does not start fails the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_wrapper import GITXP, write

import gitxp

pytest.importorskip("submitit")

pytestmark = pytest.mark.timeout(240)

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "slurm-cluster.sh"

TRAIN = (
    "import sys, time\n"
    "x = float(sys.argv[1])\n"
    "for step in range(3):\n"
    "    print(f'gitxp: step={step} loss={(x - 0.3) ** 2 + 0.1 * (3 - step)}', flush=True)\n"
    "print(f'gitxp: loss={(x - 0.3) ** 2}')\n"
)

# x == 1 sleeps long (to be cancelled while running); every other x finishes at once
NAP = "import sys, time\nx = int(sys.argv[1])\ntime.sleep(120 if x == 1 else 0.1)\nprint(f'gitxp: y={x}')\n"


@pytest.fixture(scope="session")
def slurm_env() -> Iterator[dict[str, str]]:
    """Start the real cluster (idempotent) and give the environment its clients need."""
    if not shutil.which("sbatch") and os.geteuid() != 0:
        pytest.skip(
            "Slurm is not installed and this is not root (scripts/slurm-cluster.sh installs it as root)"
        )
    was_running = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, text=True).stdout
    proc = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"the Slurm cluster did not start:\n{proc.stderr}")
        pytest.skip(f"the Slurm cluster did not start: {proc.stderr.strip()[-300:]}")
    env = {}
    for line in proc.stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value
    yield env
    if "slurmctld: running" not in was_running:
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True)


@pytest.fixture
def slurm(slurm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key, value in slurm_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GITXP_SLURM_CLUSTER", "slurm")
    yield slurm_env
    subprocess.run(["scancel", "--user", str(os.getuid())], capture_output=True, env=os.environ)


def squeue() -> dict[str, str]:
    out = subprocess.run(
        ["squeue", "--noheader", "--array", "--format=%i|%T"], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("|", 1) for line in out.split())


def wait_for(predicate, what: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def gitxp_run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GITXP, "run", "--executor", "slurm", *args], cwd=repo, capture_output=True, text=True, timeout=180
    )


def test_the_daemons_listen_on_loopback_only(slurm: dict[str, str]) -> None:
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if "slurm" in line]
    assert len(lines) >= 2, out  # slurmctld and slurmd
    for line in lines:
        local = line.split()[3]
        assert local.startswith(("127.0.0.1:", "[::1]:")), line


def test_attached_grid_sweep_is_one_job_array(repo: Path, slurm: dict[str, str]) -> None:
    write(repo, "train.py", TRAIN)
    proc = gitxp_run(
        repo, "--grid", "x=0.1,0.3,0.5", "--metric", "loss:min", "--", sys.executable, "train.py", "{x}"
    )
    assert proc.returncode == 0, proc.stderr
    rows = gitxp.load().to_pylist()
    assert sorted(r["params.x"] for r in rows) == [0.1, 0.3, 0.5]
    assert {r["status"] for r in rows} == {"finished"}
    assert {r["meta.slurm.cluster"] for r in rows} == {"slurm"}
    ids = sorted(r["meta.slurm.job_id"] for r in rows)
    assert len({i.split("_")[0] for i in ids}) == 1 and len(set(ids)) == 3  # one array, three tasks
    assert min(rows, key=lambda r: r["results.loss"])["params.x"] == 0.3
    assert all(gitxp.metrics(r["run_id"]).num_rows == 3 for r in rows)
    # no accounting on this cluster: submitit's sacct warning is never printed (at most once)
    assert proc.stderr.count("sacct") <= 1, proc.stderr


def test_tpe_sweep_submits_as_slots_free(repo: Path, slurm: dict[str, str]) -> None:
    write(repo, "train.py", TRAIN)
    proc = gitxp_run(
        repo,
        "--strategy",
        "tpe",
        "-n",
        "4",
        "-j",
        "2",
        "--sample",
        "x=uniform(0,1)",
        "--metric",
        "loss:min",
        "--seed",
        "1",
        "--",
        sys.executable,
        "train.py",
        "{x}",
    )
    assert proc.returncode == 0, proc.stderr
    rows = gitxp.load().to_pylist()
    assert len(rows) == 4 and {r["status"] for r in rows} == {"finished"}
    assert len({r["params.x"] for r in rows}) == 4
    assert len({r["meta.slurm.job_id"] for r in rows}) == 4  # one job per informed trial
    assert proc.stderr.count("sacct") <= 1, proc.stderr


def test_detached_sweep_collect_and_gitxp_cancel(repo: Path, slurm: dict[str, str]) -> None:
    write(repo, "train.py", TRAIN)
    proc = gitxp_run(repo, "--detach", "--grid", "x=0.1,0.2", "--", sys.executable, "train.py", "{x}")
    assert proc.returncode == 0, proc.stderr

    def collected() -> bool:
        out = subprocess.run([*GITXP, "collect"], cwd=repo, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return {r["status"] for r in gitxp.load().to_pylist()} == {"finished"}

    wait_for(collected, "the detached trials to be collected")
    rows = gitxp.load().to_pylist()
    assert sorted(r["params.x"] for r in rows) == [0.1, 0.2]
    assert all(r["results.loss"] is not None for r in rows)

    write(repo, "nap.py", NAP)
    proc = gitxp_run(repo, "-e", "slow", "--detach", "--", sys.executable, "nap.py", "1")
    assert proc.returncode == 0, proc.stderr
    (job_id,) = wait_for(lambda: [j for j, s in squeue().items() if s == "RUNNING"], "the job to run")
    cancel = subprocess.run(
        [*GITXP, "cancel", "-e", "slow", "--yes"], cwd=repo, capture_output=True, text=True
    )
    assert cancel.returncode == 0, cancel.stderr
    assert [r["status"] for r in gitxp.load(experiment="slow").to_pylist()] == ["cancelled"]
    wait_for(lambda: squeue().get(job_id) in (None, "CANCELLED", "COMPLETING"), "scancel to reach Slurm", 30)


def test_outside_scancel_of_a_running_and_a_pending_task(repo: Path, slurm: dict[str, str]) -> None:
    """`scancel 7_0` (running) and `scancel 7_2` (still pending, leaves no record): both recorded, the sweep goes on."""
    write(repo, "nap.py", NAP)
    proc = subprocess.Popen(
        [*GITXP, "run", "--executor", "slurm", "--slurm-array-parallelism", "1", "--grid", "x=1,2,3,4"]
        + ["--", sys.executable, "nap.py", "{x}"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        states = wait_for(
            lambda: (
                (s := squeue()) and "RUNNING" in s.values() and list(s.values()).count("PENDING") >= 2 and s
            ),
            "one running and pending tasks",
        )
        running = next(j for j, s in states.items() if s == "RUNNING")
        base = running.split("_")[0]
        assert running == f"{base}_0"
        subprocess.run(["scancel", f"{base}_2"], check=True)  # pending: x=3
        subprocess.run(["scancel", running], check=True)  # running: x=1
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = {r["params.x"]: r for r in gitxp.load().to_pylist()}
    assert {x: r["status"] for x, r in rows.items()} == {
        1: "cancelled",
        2: "finished",
        3: "cancelled",
        4: "finished",
    }, err
    assert "before it started" in rows[3]["meta.error.message"]
    assert proc.returncode != 0  # not every trial finished
    assert err.count("sacct") <= 1, err


def test_detached_task_cancelled_while_pending_is_collected_as_cancelled(
    repo: Path, slurm: dict[str, str]
) -> None:
    write(repo, "nap.py", NAP)
    proc = gitxp_run(
        repo,
        "--detach",
        "--slurm-array-parallelism",
        "1",
        "--grid",
        "x=1,2",
        "--",
        sys.executable,
        "nap.py",
        "{x}",
    )
    assert proc.returncode == 0, proc.stderr
    states = wait_for(
        lambda: (s := squeue()) and "PENDING" in s.values() and "RUNNING" in s.values() and s, "tasks"
    )
    pending = next(j for j, s in states.items() if s == "PENDING")
    subprocess.run(["scancel", pending], check=True)

    def collected() -> dict[float, str] | None:
        subprocess.run([*GITXP, "collect"], cwd=repo, capture_output=True, text=True, check=True)
        found = {r["params.x"]: r["status"] for r in gitxp.load().to_pylist()}
        return found if found.get(2) != "queued" else None

    assert wait_for(collected, "the cancelled pending task to be recorded", 30) == {
        1: "running",
        2: "cancelled",
    }
    ls = subprocess.run(
        [*GITXP, "ls", "--format", "json"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert "cancelled" in ls.stdout
