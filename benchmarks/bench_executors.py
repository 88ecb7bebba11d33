"""Executors side by side: per-trial overhead of ``--executor dask`` vs ``local`` on a trivial script, and the
throughput of a sleep sweep on a 2-worker Dask cluster against the ideal (trials x seconds / workers).

python benchmarks/bench_executors.py [--small 5 --large 25] [--trials 40 --seconds 0.5]

The Dask cluster is started once (``dask scheduler`` + ``dask worker`` processes) and reused ("warm"): what is
measured is what gitxp adds per trial, not Dask's start-up. Per-trial cost is the slope between a sweep of
``--small`` and one of ``--large`` trials, one trial at a time (-j 1), so gitxp's own start-up cancels out.
The throughput check is a scaled-down version of "200 trials of a 1 s script on 2 workers within 10 % of ideal".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GITXP = [sys.executable, "-m", "gitxp"]


def repo(root: Path, sleep: float) -> Path:
    path = root / f"project-{sleep}"
    path.mkdir()
    (path / "trial.py").write_text(
        f"import sys, time\ntime.sleep({sleep})\nprint('gitxp: y=' + sys.argv[1])\n"
    )
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    return path


def sweep(path: Path, n: int, *extra: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [
            *GITXP,
            "run",
            "-e",
            f"e{time.time_ns()}",
            "--grid",
            f"x=1:{n}",
            *extra,
            "--",
            sys.executable,
            "trial.py",
            "{x}",
        ],
        cwd=path,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return time.perf_counter() - started


def start_cluster(root: Path, workers: int) -> tuple[str, list[subprocess.Popen[bytes]]]:
    file = root / "scheduler.json"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dask",
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(file),
            ],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    while True:
        try:
            address = json.loads(file.read_text())["address"]
            break
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    for _ in range(workers):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dask",
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                cwd=root,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    from distributed import Client

    with Client(address) as client:
        client.wait_for_workers(workers, timeout=60)
    return address, procs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=5)
    parser.add_argument("--large", type=int, default=25)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-") as tmp:
        root = Path(tmp)
        os.environ["GITXP_CODE_CACHE"] = str(root / "cache")
        address, procs = start_cluster(root, 2)
        try:
            trivial = repo(root, 0.0)
            dask = ["--executor", "dask", "--scheduler", address, "-j", "1"]
            sweep(trivial, 2, *dask)  # warm: the workers check the version out once
            local = [sweep(trivial, n, "-j", "1") for n in (args.small, args.large)]
            remote = [sweep(trivial, n, *dask) for n in (args.small, args.large)]
            span = args.large - args.small
            per_local = (local[1] - local[0]) / span
            per_dask = (remote[1] - remote[0]) / span
            print(
                f"per trial, one at a time: local {per_local * 1000:.0f} ms, dask {per_dask * 1000:.0f} ms, "
                f"added by dask {(per_dask - per_local) * 1000:+.0f} ms (target < 50 ms)"
            )
            sleepy = repo(root, args.seconds)
            sweep(sleepy, 2, "--executor", "dask", "--scheduler", address)
            wall = sweep(sleepy, args.trials, "--executor", "dask", "--scheduler", address)
            idle = sweep(sleepy, 1, "--executor", "dask", "--scheduler", address) - args.seconds
            ideal = args.trials * args.seconds / 2
            print(
                f"{args.trials} trials of {args.seconds} s on 2 workers: {wall:.2f} s wall "
                f"({wall - idle:.2f} s without gitxp's start-up of {idle:.2f} s), ideal {ideal:.2f} s: "
                f"{(wall - idle) / ideal - 1:+.1%} over ideal (target within 10 %)"
            )
            local_wall = sweep(sleepy, args.trials, "-j", "2")
            local_idle = sweep(sleepy, 1, "-j", "1") - args.seconds
            print(
                f"the same sweep with --executor local -j 2: {local_wall - local_idle:.2f} s without start-up "
                f"({(local_wall - local_idle) / ideal - 1:+.1%} over ideal): dask/local "
                f"{(wall - idle) / (local_wall - local_idle):.2f}x"
            )
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
