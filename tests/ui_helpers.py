"""Real repos and a real ``gitxp ui`` server for the dashboard tests (test_ui.py, test_ui_browser.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

HOSTILE = "<script>alert(1)</script>"


def png(width: int = 24, height: int = 16) -> bytes:
    """A real PNG (a colour gradient), written with zlib alone."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\0" + bytes(c for x in range(width) for c in (x * 10 % 256, y * 15 % 256, 128))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


SWEEP = """
import math, random, gitxp
random.seed(1)
for i, (lr, layers) in enumerate([(0.1, 2), (0.03, 2), (0.01, 3), (0.003, 3), (0.001, 4), (0.0003, 4)]):
    with gitxp.start(experiment="sweep", params={"lr": lr, "layers": layers, "optim": "adam"}) as run:
        for step in range(300):
            run.log(step=step, loss=math.exp(-step * lr * 3) + 0.05 * layers + random.random() * 0.02)
        run.result(valid_acc=0.7 + 0.05 * layers + 0.1 * math.log10(lr + 1e-9) / -4)
with gitxp.start(experiment="notes", params={"note": %r, "lr": 0.5}) as run:
    run.log(step=0, loss=1.0)
    run.result(valid_acc=0.5)
"""

LIVE = """
import time
for step in range(100000):
    print(f"gitxp: step={step} loss={1.0 / (1 + step):.5f}", flush=True)
    time.sleep(0.2)
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def python(repo: Path, code: str) -> None:
    subprocess.run(
        [sys.executable, "-c", code], cwd=repo, check=True, capture_output=True, text=True, timeout=120
    )


TRADEOFF = """
import gitxp, math, random
random.seed(3)
for i in range(24):
    optim = "sgd" if i % 3 else "adam"
    params = {"lr": 10 ** random.uniform(-5, -1), "optim": optim, "width": random.choice([32, 64, 128])}
    if optim == "sgd":
        params["momentum"] = round(random.uniform(0.5, 0.99), 3)  # conditional: sgd only
    with gitxp.start(experiment="tradeoff", params=params, metric="acc:max") as run:
        acc = 0.9 - 0.05 * abs(math.log10(params["lr"]) + 3) + (0.02 if optim == "adam" else 0)
        run.result(acc=acc, latency=params["width"] * (1 + 0.1 * (i % 5)))
"""


def build_repo(repo: Path) -> Path:
    """A repo with a 6-run sweep on version 1, two runs on version 2 (a code change), a run with a hostile
    param value. (``TRADEOFF`` adds a 24-run experiment with two objectives, a log-scale and a conditional param.)"""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("def model(x):\n    return x * 2\n")
    (repo / "live.py").write_text(LIVE)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first model")
    python(repo, SWEEP % HOSTILE)
    (repo / "train.py").write_text("def model(x):\n    # a better model\n    return x * 3\n")
    git(repo, "commit", "-qam", "better model")
    python(
        repo,
        "import gitxp\nfor s in (1, 2):\n"
        "    with gitxp.start(experiment='sweep', params={'lr': 0.01, 'layers': 3, 'optim': 'adam'}) as run:\n"
        "        run.log(step=0, loss=0.5); run.log(step=1, loss=0.4)\n"
        "        run.result(valid_acc=0.9 + s / 100)\n",
    )
    return repo


def start_live(repo: Path) -> subprocess.Popen[bytes]:
    """A run that keeps logging (a real background process) until killed."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gitxp",
            "run",
            "-e",
            "live",
            "-p",
            "lr=0.05",
            "--allow-unused",
            "--",
            sys.executable,
            "live.py",
        ],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        out = subprocess.run(
            [sys.executable, "-m", "gitxp", "ls", "--status", "running", "--format", "csv"],
            cwd=repo,
            capture_output=True,
            text=True,
        ).stdout
        if "live" in out:
            return proc
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the live run did not show up")


def start_ui(repo: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``gitxp ui --port 0 --no-open`` as a real subprocess; returns it and the URL it printed."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitxp", "ui", "--port", "0", "--no-open", "-C", str(repo), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"gitxp ui printed no URL: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc, match.group(1).rstrip("/")


def stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM) if os.getpgid(proc.pid) == proc.pid else proc.terminate()
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
