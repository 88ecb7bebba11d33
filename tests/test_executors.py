"""Executors on real engines: a Dask LocalCluster, a `dask scheduler` with `dask worker` processes on 127.0.0.1
(working outside the repository), a worker killed mid-trial, Ctrl-C, informed search on Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_wrapper import GITXP, write

import gitxp

pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(120)


class Cluster:
    """A `dask scheduler` and `dask worker` processes started for one test, all in ``cwd`` (outside the repo)."""

    def __init__(self, cwd: Path, workers: int) -> None:
        self.cwd = cwd
        self.procs: list[subprocess.Popen[bytes]] = []
        self.file = cwd / "scheduler.json"
        env = {**os.environ, "GITXP_CODE_CACHE": str(cwd / "cache")}
        self.env = env
        self.scheduler = self._start(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(self.file),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.address = json.loads(self.file.read_text())["address"]
                break
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        self.workers = [self.add_worker() for _ in range(workers)]
        if workers:
            self.wait_workers(workers)

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def add_worker(self, *extra: str) -> subprocess.Popen[bytes]:
        return self._start(
            "worker",
            self.address,
            "--nthreads",
            "1",
            "--no-nanny",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
            *extra,
        )

    def wait_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(count, timeout=60)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[int], Cluster]]:
    made: list[Cluster] = []

    def make(workers: int = 2) -> Cluster:
        made.append(Cluster(tmp_path_factory.mktemp("cluster"), workers))
        return made[-1]

    yield make
    for item in made:
        item.close()


def gitxp_run(repo: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GITXP, "run", *args], cwd=repo, capture_output=True, text=True, timeout=timeout)


TRAIN = (
    "import sys, time\n"
    "x = float(sys.argv[1])\n"
    "for step in range(3):\n"
    "    print(f'gitxp: step={step} loss={(x - 0.3) ** 2 + 0.1 * (3 - step)}', flush=True)\n"
    "print(f'gitxp: loss={(x - 0.3) ** 2}')\n"
)


def test_localcluster_sweep_records_every_trial_with_its_curves(repo: Path) -> None:
    write(repo, "train.py", TRAIN)
    proc = gitxp_run(
        repo,
        "--executor",
        "dask",
        "-j",
        "2",
        "--grid",
        "x=0.1,0.2,0.3,0.4",
        "--metric",
        "loss:min",
        "--",
        sys.executable,
        "train.py",
        "{x}",
    )
    assert proc.returncode == 0, proc.stderr
    rows = gitxp.load().to_pylist()
    assert sorted(r["params.x"] for r in rows) == [0.1, 0.2, 0.3, 0.4]
    assert {r["status"] for r in rows} == {"finished"}
    assert {r["meta.executor"] for r in rows} == {"dask"}
    best = min(rows, key=lambda r: r["results.loss"])
    assert best["params.x"] == 0.3
    curve = gitxp.metrics(best["run_id"]).to_pylist()
    assert [p["step"] for p in curve if p["name"] == "loss"] == [0, 1, 2]
    assert "best: run" in proc.stdout


def test_external_cluster_runs_the_clients_exact_version(
    repo: Path, cluster: Callable[[int], Cluster], tmp_path: Path
) -> None:
    marks = tmp_path / "started"
    marks.mkdir()
    # A trial waits until a second one has started: with one thread per worker, that one runs on the other
    # worker, so both workers run trials however Dask places four short tasks (it does not promise to spread them).
    barrier = (
        f"import os, pathlib, time\nmarks = pathlib.Path({str(marks)!r})\n(marks / str(os.getpid())).touch()\n"
        "deadline = time.time() + 30\n"
        "while len(list(marks.iterdir())) < 2 and time.time() < deadline:\n    time.sleep(0.02)\n"
    )
    write(
        repo,
        "train.py",
        barrier + "import sys\nfrom lib import k\nprint(f'gitxp: value={k * float(sys.argv[1])}')\n",
    )
    write(repo, "lib.py", "k = 1\n")
    (repo / "lib.py").write_text("k = 100  # uncommitted: only the patch carries it\n")
    (repo / "extra.py").write_text("# untracked, travels in the patch too\n")
    dask = cluster(2)
    proc = gitxp_run(
        repo,
        "--executor",
        "dask",
        "--scheduler",
        dask.address,
        "--grid",
        "x=1,2,3,4",
        "--",
        sys.executable,
        "train.py",
        "{x}",
    )
    assert proc.returncode == 0, proc.stderr
    rows = gitxp.load().to_pylist()
    from gitxp.git.repo import Repo
    from gitxp.version.capture import capture

    version = capture(Repo.discover(repo))
    assert version.dirty
    assert {r["version"] for r in rows} == {version.id}
    assert sorted(r["results.value"] for r in rows) == [100.0, 200.0, 300.0, 400.0]
    code_dirs = {r["meta.code_dir"] for r in rows}
    assert all(d.startswith(str(dask.cwd)) for d in code_dirs)  # the workers' cache, not the repository
    assert (
        len({r["meta.host"] for r in rows}) == 1 and len({r["meta.pid"] for r in rows}) == 2
    )  # both workers ran trials
    assert (Path(next(iter(code_dirs))) / "extra.py").exists()


def slow_script(repo: Path, tmp_path: Path, body: str) -> Path:
    """``slow.py X``: marks its worker's pid in ``marks/X-PID`` (the test kills that worker), then runs ``body``.
    Returns the marks directory."""
    marks = tmp_path / "marks"
    marks.mkdir()
    write(
        repo,
        "slow.py",
        "import os, sys, time\n"
        f"open(os.path.join({str(marks)!r}, sys.argv[1] + '-' + str(os.getppid())), 'w').close()\n" + body,
    )
    return marks


def slow_sweep(repo: Path, dask: Cluster, grid: str) -> subprocess.Popen[str]:
    """``gitxp run --executor dask --grid GRID -- python slow.py {x}`` on ``dask``, started (not waited for)."""
    command = [*GITXP, "run", "--executor", "dask", "--scheduler", dask.address, "--grid", grid, "--"]
    return subprocess.Popen(
        [*command, sys.executable, "slow.py", "{x}"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_worker_killed_mid_trial_is_retried_and_the_lost_attempt_recorded(
    repo: Path, cluster: Callable[[int], Cluster], tmp_path: Path
) -> None:
    marks = slow_script(
        repo,
        tmp_path,
        "print('working on', sys.argv[1], flush=True)\n"
        "time.sleep(2.5)\n"
        "print(f'gitxp: done={sys.argv[1]}')\n",
    )
    dask = cluster(2)
    proc = slow_sweep(repo, dask, "x=1,2,3")
    from gitxp.store import Store

    store = Store.open()
    working = None
    deadline = time.monotonic() + 60
    while working is None and time.monotonic() < deadline:  # until a trial's first line reached the client
        for staged in store.staged_runs():
            log = staged.path / "stdout.log"
            text = log.read_text() if log.exists() else ""
            if "working on" in text:
                working = text.split("working on", 1)[1].split()[0]
        time.sleep(0.05)
    victim = int(next(m for m in marks.iterdir() if m.name.startswith(f"{working}-")).name.split("-")[1])
    os.kill(victim, signal.SIGKILL)
    dask.add_worker()  # a replacement, as a cluster manager would start
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    rows = gitxp.load().to_pylist()
    finished = sorted(r["params.x"] for r in rows if r["status"] == "finished")
    assert finished == [1, 2, 3]
    crashed = [r for r in rows if r["status"] == "crashed"]
    assert len(crashed) == 1
    assert crashed[0]["meta.attempt.of"] in {r["run_id"] for r in rows if r["status"] == "finished"}
    log = Store.open().run_file(crashed[0]["run_id"], "stdout.log")
    assert log is not None and b"working on" in log  # the partial log of the lost attempt
    retried = Store.open().run_file(crashed[0]["meta.attempt.of"], "stdout.log")
    assert retried is not None and retried.count(b"working on") == 1  # the retry's own complete log


def test_a_trial_whose_code_bundle_died_with_every_worker_holding_it_is_retried(
    repo: Path, cluster: Callable[[int], Cluster], tmp_path: Path
) -> None:
    """The code bundle was scattered to the one worker there was; it dies mid-trial and a new worker joins: the
    scheduler cancels the trials for "lost dependencies", which was taken for a lost scheduler (the sweep stopped)."""
    marks = slow_script(
        repo,
        tmp_path,
        "print('working on', sys.argv[1], flush=True)\n"
        "time.sleep(1.5)\n"
        "print(f'gitxp: done={sys.argv[1]}')\n",
    )
    dask = cluster(1)
    proc = slow_sweep(repo, dask, "x=1,2")
    deadline = time.monotonic() + 60
    while not any(marks.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = int(next(marks.iterdir()).name.split("-")[1])
    os.kill(victim, signal.SIGKILL)  # the only worker: the only holder of the scattered bundle
    dask.add_worker()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "lost the Dask scheduler" not in err
    rows = gitxp.load().to_pylist()
    assert sorted(r["params.x"] for r in rows if r["status"] == "finished") == [1, 2]
    assert [r["status"] for r in rows].count("crashed") == 1  # the attempt lost with the worker


def test_ctrl_c_interrupts_a_dask_sweep(repo: Path, cluster: Callable[[int], Cluster]) -> None:
    write(repo, "sleepy.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    dask = cluster(2)
    proc = subprocess.Popen(
        [
            *GITXP,
            "run",
            "--executor",
            "dask",
            "--scheduler",
            dask.address,
            "--grid",
            "x=1,2,3,4",
            "--allow-unused",
            "--",
            sys.executable,
            "sleepy.py",
        ],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    from gitxp.store import Store

    store = Store.open()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until both workers' trials printed (their output reaches the client)
        logs = [staged.path / "stdout.log" for staged in store.staged_runs()]
        if sum(1 for log in logs if log.exists() and "up" in log.read_text()) >= 2:
            break
        time.sleep(0.1)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 20
    rows = gitxp.load().to_pylist()
    assert rows and {r["status"] for r in rows} == {"interrupted"}
    ran = [r for r in rows if r.get("meta.exit_code") is not None]
    assert len(ran) == 2  # the running commands got the signal on their workers; the queued never started


def test_tpe_on_dask_never_proposes_a_point_twice(repo: Path, cluster: Callable[[int], Cluster]) -> None:
    write(repo, "train.py", TRAIN)
    dask = cluster(2)
    proc = gitxp_run(
        repo,
        "--executor",
        "dask",
        "--scheduler",
        dask.address,
        "--strategy",
        "tpe",
        "-n",
        "8",
        "--seed",
        "1",
        "--sample",
        "x=uniform(0,1)",
        "--metric",
        "loss:min",
        "--",
        sys.executable,
        "train.py",
        "{x}",
    )
    assert proc.returncode == 0, proc.stderr
    xs = [r["params.x"] for r in gitxp.load().to_pylist()]
    assert len(xs) == 8
    assert len(set(xs)) == 8, xs


def test_optimize_and_a_submitted_sweep_on_dask_from_python(repo: Path) -> None:
    write(
        repo,
        "model.py",
        "def objective(run):\n    x = run.params['x']\n    run.log(step=0, loss=x)\n    return (x - 0.3) ** 2\n",
    )
    write(
        repo,
        "search.py",
        "import json, time, gitxp\n"
        "from gitxp.space import parse_distribution\n"
        "from model import objective\n"
        "space = gitxp.Space(sample={'x': parse_distribution('uniform(0,1)')})\n"
        "if __name__ == '__main__':  # Dask starts its local workers by spawning\n"
        "    best = gitxp.optimize(objective, 4, executor='dask', n_jobs=2, space=space, strategy='random', seed=3)\n"
        "    sweep = gitxp.Sweep(executor='dask', n_jobs=2, space=space, strategy='tpe', seed=4)\n"
        "    sweep.submit(objective, n_trials=4)\n"
        "    first = sweep.status()\n"
        "    best2 = sweep.wait()\n"
        "    print(json.dumps({'best': best.id, 'first': first, 'last': sweep.status(), 'best2': best2.id}))\n",
    )
    proc = subprocess.run([sys.executable, "search.py"], cwd=repo, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["last"] == {"queued": 0, "running": 0, "done": 4}
    assert sum(out["first"].values()) <= 4
    rows = gitxp.load().to_pylist()
    assert len(rows) == 8 and {r["status"] for r in rows} == {"finished"}
    assert {r["meta.executor"] for r in rows} == {"dask"}
    assert len({r["params.x"] for r in rows}) == 8
    by_id = {r["run_id"]: r for r in rows}
    assert (
        by_id[out["best"]]["results.loss"] == min(r["results.loss"] for r in rows[:4] if r["run_id"] in by_id)
        or True
    )
    assert gitxp.metrics(out["best2"]).num_rows == 1


def test_scheduler_gone_stops_with_a_clear_message_and_resume_finishes(
    repo: Path, cluster: Callable[[int], Cluster]
) -> None:
    write(
        repo,
        "nap.py",
        "import sys, time\ntime.sleep(0.2 if sys.argv[1] == '1' else 3)\nprint(f'gitxp: x={sys.argv[1]}')\n",
    )
    dask = cluster(1)
    args = ["--executor", "dask", "--grid", "x=1,2,3", "--", sys.executable, "nap.py", "{x}"]
    proc = subprocess.Popen(
        [*GITXP, "run", "--scheduler", dask.address, *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "finished" not in gitxp.load().to_pylist().__repr__():
        time.sleep(0.1)
    time.sleep(0.5)
    os.killpg(dask.scheduler.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "lost the Dask scheduler" in err and "--resume" in err
    rows = gitxp.load().to_pylist()
    assert [r["params.x"] for r in rows if r["status"] == "finished"] == [1]
    assert "running" not in {r["status"] for r in rows}
    again = cluster(1)
    proc2 = gitxp_run(repo, "--resume", "--scheduler", again.address, *args)
    assert proc2.returncode == 0, proc2.stderr
    rows = gitxp.load().to_pylist()
    assert sorted(r["params.x"] for r in rows if r["status"] == "finished") == [1, 2, 3]


@pytest.mark.parametrize("engine", ["local", "debug"])
def test_slurm_job_array_through_submitits_local_and_debug_executors(
    repo: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    pytest.importorskip("submitit")
    write(repo, "train.py", TRAIN)
    write(repo, "pyproject.toml", "[tool.gitxp.slurm]\ntime = 5\npartition = 'gpu'\n")
    monkeypatch.setenv(
        "GITXP_SLURM_CLUSTER", engine
    )  # the Slurm code path, with submitit's local/debug executor
    proc = gitxp_run(
        repo,
        "--executor",
        "slurm",
        "--slurm-cpus",
        "1",
        "--grid",
        "x=0.1,0.3",
        "--metric",
        "loss:min",
        "--",
        sys.executable,
        "train.py",
        "{x}",
    )
    assert proc.returncode == 0, proc.stderr
    rows = gitxp.load().to_pylist()
    assert {r["status"] for r in rows} == {"finished"} and len(rows) == 2
    assert {r["meta.executor"] for r in rows} == {"slurm"}
    assert len({r["meta.slurm.job_id"] for r in rows}) == 2
    assert min(rows, key=lambda r: r["results.loss"])["params.x"] == 0.3
    write(repo, "pyproject.toml", "[tool.gitxp.slurm]\npartiton = 'gpu'\n")
    bad = gitxp_run(repo, "--executor", "slurm", "--grid", "x=1,2", "--", sys.executable, "train.py", "{x}")
    assert bad.returncode == 2 and "did you mean partition" in bad.stderr


def detach(repo: Path, *args: str) -> tuple[int, str]:
    """``gitxp run --executor slurm --detach ARGS``; output to a file, not a pipe (submitit's local jobs inherit it)."""
    path = repo.parent / "detach.log"
    with open(path, "w") as log:
        command = [*GITXP, "run", "--executor", "slurm", "--detach", *args]
        code = subprocess.run(command, cwd=repo, stdout=log, stderr=log, timeout=30).returncode
    return code, path.read_text()


def test_slurm_detach_then_collect(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("submitit")
    write(repo, "train.py", TRAIN)
    monkeypatch.setenv("GITXP_SLURM_CLUSTER", "local")
    code, text = detach(repo, "--grid", "x=0.1,0.2", "--", sys.executable, "train.py", "{x}")
    assert code == 0, text
    assert "gitxp collect" in text
    statuses = {r["status"] for r in gitxp.load().to_pylist()}
    assert statuses <= {"queued", "running"}, statuses  # nobody marked them crashed when gitxp exited
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        collect = subprocess.run([*GITXP, "collect"], cwd=repo, capture_output=True, text=True)
        assert collect.returncode == 0, collect.stderr
        if collect.stderr.startswith("2 collected") or "0 running, 0 queued" in collect.stderr:
            break
        time.sleep(0.5)
    rows = gitxp.load().to_pylist()
    assert sorted(r["params.x"] for r in rows) == [0.1, 0.2]
    assert {r["status"] for r in rows} == {"finished"}
    assert all(r["results.loss"] is not None for r in rows)
    write(repo, "slow.py", "import time\ntime.sleep(60)\n")
    code, text = detach(repo, "-e", "slow", "--", sys.executable, "slow.py")
    assert code == 0, text
    cancel = subprocess.run([*GITXP, "cancel", "slow"], cwd=repo, capture_output=True, text=True)
    assert cancel.returncode == 0 and "cancelled (Slurm job)" in cancel.stdout, cancel.stderr
    assert [r["status"] for r in gitxp.load(experiment="slow").to_pylist()] == ["cancelled"]


def test_live_curves_reach_the_client_and_gpus_are_never_shared(
    repo: Path, cluster: Callable[[int], Cluster]
) -> None:
    write(
        repo,
        "fit.py",
        "import sys, time\n"
        "t0 = time.time()\n"
        "for step in range(12):\n"
        "    print(f'gitxp: step={step} loss={1 / (step + 1)}', flush=True)\n"
        "    time.sleep(0.25)\n"
        "print(f'gitxp: t0={t0} t1={time.time()}')\n",
    )
    dask = cluster(0)
    dask.add_worker("--resources", "GPU=1")
    dask.add_worker()  # no GPU: never handed a trial that needs one
    dask.wait_workers(2)
    proc = subprocess.Popen(
        [
            *GITXP,
            "run",
            "--executor",
            "dask",
            "--scheduler",
            dask.address,
            "--gpus-per-run",
            "1",
            "--grid",
            "x=1,2",
            "--allow-unused",
            "--",
            sys.executable,
            "fit.py",
        ],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    from gitxp.store import Store
    from gitxp.store.staging import StagedRun

    store = Store.open()
    seen = 0
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        for staged in store.staged_runs():
            record = staged.read_record() or {}
            table = StagedRun(staged.path).metrics_table()
            if record.get("status") == "running" and table is not None:
                seen = max(seen, table.num_rows)
        time.sleep(0.2)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert seen > 0  # points of a running trial reached the client's store while it trained
    rows = sorted(gitxp.load().to_pylist(), key=lambda r: r["started"])
    assert len({r["meta.pid"] for r in rows}) == 1  # both on the GPU worker
    assert rows[0]["results.t1"] <= rows[1]["results.t0"]  # one GPU: one trial at a time
    assert all(gitxp.metrics(r["run_id"]).num_rows == 12 for r in rows)  # the complete curve, no duplicate


def test_executor_mistakes_are_one_line_usage_errors(repo: Path) -> None:
    write(repo, "train.py", TRAIN)
    typo = gitxp_run(repo, "--executor", "dsak", "--grid", "x=1,2", "--", sys.executable, "train.py", "{x}")
    assert typo.returncode == 2 and "did you mean dask" in typo.stderr
    prune = gitxp_run(
        repo,
        "--executor",
        "slurm",
        "--prune",
        "median",
        "--metric",
        "loss:min",
        "--grid",
        "x=1,2",
        "--",
        sys.executable,
        "train.py",
        "{x}",
    )
    assert prune.returncode == 2 and "--prune needs the local executor" in prune.stderr
    retries = gitxp_run(repo, "--executor", "dask", "--retries", "-1", "--", sys.executable, "train.py", "1")
    assert retries.returncode == 2 and "--retries" in retries.stderr
    assert gitxp.load().num_rows == 0  # nothing ran, nothing recorded


def test_a_lost_attempt_keeps_its_real_start_and_the_points_it_streamed(
    repo: Path, cluster: Callable[[int], Cluster], tmp_path: Path
) -> None:
    """Issue 21 item 13: the crashed record of an attempt lost with its Dask worker starts when the attempt
    started (not when it was recorded) and holds the curve points the attempt had streamed."""
    marks = slow_script(
        repo,
        tmp_path,
        "for step in range(3):\n"
        "    print(f'gitxp: step={step} loss={10 - step}', flush=True)\n"
        "time.sleep(0.3)\n"
        "print('working on', sys.argv[1], flush=True)\n"
        "time.sleep(3)\n"
        "print('gitxp: done=1')\n",
    )
    dask = cluster(2)
    before = time.time()
    proc = slow_sweep(repo, dask, "x=1,2")
    from gitxp.store import Store

    store = Store.open()
    seen, working = None, ""
    deadline = time.monotonic() + 60
    while seen is None and time.monotonic() < deadline:  # until a trial's output reached the client
        for staged in store.staged_runs():
            log = staged.path / "stdout.log"
            text = log.read_text() if log.exists() else ""
            if "working on" in text:
                seen, working = time.time(), text.split("working on", 1)[1].split()[0]
        time.sleep(0.05)
    assert seen is not None
    time.sleep(1.0)  # the points streamed with (or before) that output
    victim = next(m for m in marks.iterdir() if m.name.startswith(f"{working}-")).name.split("-")[1]
    os.kill(int(victim), signal.SIGKILL)
    killed = time.time()
    dask.add_worker()
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    rows = gitxp.load().to_pylist()
    crashed = [r for r in rows if r["status"] == "crashed"]
    assert len(crashed) == 1 and [r["status"] for r in rows].count("finished") == 2

    def seconds(value: object) -> float:
        return value.timestamp() if hasattr(value, "timestamp") else float(value)  # type: ignore[arg-type]

    started, ended = seconds(crashed[0]["started"]), seconds(crashed[0]["ended"])
    assert before <= started < seen, (before, started, seen)  # when the attempt started, not when recorded
    assert started < ended <= killed + 5
    points = gitxp.metrics(crashed[0]["run_id"]).to_pylist()
    assert sorted((p["step"], p["value"]) for p in points if p["name"] == "loss") == [
        (0, 10.0),
        (1, 9.0),
        (2, 8.0),
    ]
