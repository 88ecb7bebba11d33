"""W4 (wrapper overhead) and the 100-run grid of shared/BENCHMARKS.md, side by side with their floors in one run.

    python benchmarks/bench_wrapper.py [--repeat 10]

W4: ``gitxp run -- python t.py`` vs bare ``python t.py`` (a ``print(1)`` script) in a fresh git repository: the
median added milliseconds and the ratio. When ``dvc`` is on PATH, ``dvc exp run`` of the same script is measured
too. Grid: ``gitxp run --grid x=0:99 -j 2`` over a trivial script, wall time against running the 100 scripts
bare, 2 at a time.

Byte-code caching is enabled for the measured processes (``PYTHONDONTWRITEBYTECODE`` removed and gitxp
precompiled), as on a user's machine.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gitxp

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PYTHON = sys.executable
GITXP = str(Path(sys.executable).with_name("gitxp"))


def timed(cmd: list[str], cwd: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=ENV, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        settle(cwd)
    return statistics.median(times)


def settle(repo: Path) -> None:
    """Wait for the detached commit of the run just measured (its staging entry gone): each run is measured
    alone, as a user running one command sees it, not competing for the 2 cores with the previous one's commit."""
    staging = repo / ".git" / "gitxp" / "staging"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not staging.is_dir() or not [n for n in os.listdir(staging) if not n.startswith(".")]:
            break
        time.sleep(0.01)
    time.sleep(0.05)  # the commit process exits after removing the entry


def make_repo(root: Path) -> Path:
    repo = root / "w4"
    repo.mkdir()
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "t.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "t"], cwd=repo, check=True)
    return repo


def w4(repo: Path, repeat: int) -> dict[str, float]:
    subprocess.run(
        [GITXP, "run", "--", PYTHON, "t.py"], cwd=repo, env=ENV, check=True, capture_output=True
    )  # warm
    bare, wrapped = [], []
    for _ in range(repeat):  # alternated, so that the load of a shared machine weighs on both alike
        bare.append(timed([PYTHON, "t.py"], repo, 1))
        wrapped.append(timed([GITXP, "run", "--", PYTHON, "t.py"], repo, 1))
    out = {"bare": statistics.median(bare), "gitxp": statistics.median(wrapped)}
    dvc = shutil.which("dvc")
    if dvc:
        subprocess.run([dvc, "init", "-q"], cwd=repo, env=ENV, check=True, capture_output=True)
        (repo / "dvc.yaml").write_text(f"stages:\n  t:\n    cmd: {PYTHON} t.py\n    deps: [t.py]\n")
        git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
        subprocess.run([*git, "add", "."], cwd=repo, check=True)
        subprocess.run([*git, "commit", "-qm", "dvc"], cwd=repo, check=True)
        out["dvc"] = timed([dvc, "exp", "run"], repo, max(3, repeat // 2))
    return out


def grid(repo: Path) -> dict[str, float]:
    start = time.perf_counter()
    subprocess.run(
        [GITXP, "run", "-e", "grid", "--grid", "x=0:99", "-j", "2", "--", PYTHON, "t.py", "{x}"],
        cwd=repo,
        env=ENV,
        check=True,
        capture_output=True,
    )
    with_gitxp = time.perf_counter() - start
    assert gitxp.load(experiment="grid", path=repo).num_rows == 100
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(
            pool.map(
                lambda x: subprocess.run(
                    [PYTHON, "t.py", str(x)], cwd=repo, env=ENV, check=True, capture_output=True
                ),
                range(100),
            )
        )
    return {"gitxp": with_gitxp, "bare": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--no-grid", action="store_true", help="W4 only")
    args = parser.parse_args()
    compileall.compile_dir(str(Path(gitxp.__file__).parent), quiet=1)
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-") as tmp:
        repo = make_repo(Path(tmp))
        r4 = w4(repo, args.repeat)
        added = r4["gitxp"] - r4["bare"]
        line = (
            f"W4 wrapper: bare {r4['bare'] * 1000:.0f}ms | gitxp run {r4['gitxp'] * 1000:.0f}ms | added "
            f"{added * 1000:.0f}ms | ratio {r4['gitxp'] / r4['bare']:.1f}x"
        )
        if "dvc" in r4:
            dvc_added = r4["dvc"] - r4["bare"]
            line += f" | dvc exp run added {dvc_added * 1000:.0f}ms ({dvc_added / added:.1f}x gitxp's)"
        print(line)
        if args.no_grid:
            return
        rg = grid(repo)
        print(
            f"100-run grid -j 2: gitxp {rg['gitxp']:.1f}s | bare scripts 2 at a time {rg['bare']:.1f}s | "
            f"ratio {rg['gitxp'] / rg['bare']:.1f}x"
        )


if __name__ == "__main__":
    main()
