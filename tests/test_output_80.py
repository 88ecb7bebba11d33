"""What people read at 80 columns: snapshots of ls, show, compare and a sweep (ids, times, versions normalised).

Regenerate after a deliberate change with ``GITXP_UPDATE_SNAPSHOTS=1 pytest tests/test_output_80.py`` and look
at the files in tests/snapshots/ before committing them.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from conftest import git
from test_wrapper import write

import gitxp
from gitxp.store import Store

SNAPSHOTS = Path(__file__).parent / "snapshots"
_RULES = [
    (re.compile(r"\b[0-9a-hjkmnp-tv-z]{26}\b"), "<RUN-ID>"),
    # an id as printed is the shortest prefix unique in the store (8 to 26 characters, by timing): its column's
    # width (the padding after it, the header's, the rule's) varies with it
    (re.compile(r"\b01[0-9a-hjkmnp-tv-z]{6,23}\b *"), "<RUNID>   "),
    (re.compile(r"^run_id +", re.M), "run_id   "),
    (re.compile(r"─{3,}"), "───"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00)?"), "<TIME>"),
    (re.compile(r"\b[0-9a-f]{40}\b"), "<COMMIT-SHA>"),
    (re.compile(r"\b[0-9a-f]{7}\b(\+d\.[0-9a-f]{7})?"), "<VER>"),
    (re.compile(r"\(\d+\.\d s\)"), "(<S> s)"),
    (re.compile(r"\b\d+\.\d+s\b"), "<DUR>"),
]


_MACHINE = re.compile(r"^meta\n(?:  .*\n|\s{4,}.*\n)*", re.M)  # host, paths, pid: differ per machine


def normalise(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
    text = _MACHINE.sub("meta\n  <machine-specific>\n", text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def check(name: str, text: str) -> None:
    """The output matches tests/snapshots/NAME.txt, and no line is wider than 80 columns."""
    text = normalise(text)
    assert all(len(line) <= 80 for line in text.splitlines()), text
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("GITXP_UPDATE_SNAPSHOTS") or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed:\n{text}"


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def history(repo: Path) -> Path:
    """Runs of two versions with long param names and values: what a real listing holds."""
    for i, lr in enumerate((0.1, 0.01, 0.001)):
        with gitxp.start(
            experiment="digits",
            params={
                "learning_rate": lr,
                "penalty": "elasticnet",
                "optimizer": {"name": "sgd", "momentum": 0.9},
                "data_path": "/datasets/handwritten-digits/version-2026-11/train.parquet",
            },
            metric="valid_acc:max",
        ) as run:
            for step in range(3):
                run.log(step=step, valid_acc=0.5 + 0.1 * step + i / 100, train_loss=1.0 / (step + 1))
            run.result(valid_acc=0.7 + i / 100, test_acc=0.69 + i / 100)
    (repo / "train.py").write_text("print('v2')\n")
    git(repo, "commit", "-qam", "v2")
    git(repo, "tag", "v2")
    for i, lr in enumerate((0.1, 0.01, 0.001)):
        with gitxp.start(
            experiment="digits",
            params={
                "learning_rate": lr,
                "penalty": "l2",
                "optimizer": {"name": "adam", "momentum": 0.0},
                "data_path": "/datasets/handwritten-digits/version-2026-11/train.parquet",
            },
            metric="valid_acc:max",
        ) as run:
            run.result(valid_acc=0.8 + i / 100, test_acc=0.79 + i / 100)
    return repo


def test_ls_at_80_columns(history: Path, narrow: None, invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("ls")
    assert result.exit_code == 0
    check("ls", result.output)
    assert "more columns not shown" in result.output
    chosen = invoke("ls", "--columns", "run_id,data_path,penalty,optimizer.name,learning_rate,started")
    assert "…" in chosen.output and all(len(line) <= 80 for line in chosen.output.splitlines())


def test_ls_piped_is_plain_and_unwrapped(history: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    lines = invoke("ls").output.splitlines()
    assert "params.data_path" in lines[0] and "─" not in "".join(lines)
    assert all("/datasets/handwritten-digits/version-2026-11/train.parquet" in line for line in lines[1:])


def test_show_at_80_columns(history: Path, narrow: None, invoke) -> None:  # type: ignore[no-untyped-def]
    first = gitxp.load(sort="started")["run_id"][0].as_py()
    check("show", invoke("show", first).output)
    check("show_metrics", invoke("show", first, "--metrics").output)
    last = gitxp.load()["run_id"][0].as_py()
    shown = Store.open().short_id(last)  # the shortest prefix unique in the store
    assert invoke("show", last, "--metrics").output == f"run {shown} has no per-step metrics\n"


def test_ls_and_show_with_tags_and_notes_at_80_columns(history: Path, narrow: None, invoke) -> None:  # type: ignore[no-untyped-def]
    ids = gitxp.load(sort="started")["run_id"].to_pylist()
    gitxp.tag(ids[:2], "baseline")
    gitxp.tag(ids[-1], "best")
    gitxp.note(ids[-1], "adam with l2 and the smallest rate: the best so far, keep it for the paper")
    listing = invoke("ls")
    assert "baseline" in listing.output and "tags" in listing.output
    check("ls_tags", listing.output)
    check("show_tags", invoke("show", ids[-1]).output)


def test_compare_at_80_columns(history: Path, narrow: None, invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("compare", "v2~1", "v2")
    assert result.exit_code == 0, result.output
    check("compare", result.output)


def test_params_that_differ_are_summarised(repo: Path, narrow: None, invoke) -> None:  # type: ignore[no-untyped-def]
    for i in range(30):
        with gitxp.start(experiment="e", params={"lr": 10 ** -(1 + i / 10), "seed": i}) as run:
            run.result(acc=0.5 + i / 100)
    git(repo, "commit", "-qm", "next", "--allow-empty")
    for i in range(3):
        with gitxp.start(experiment="e", params={"lr": 0.5, "seed": i}) as run:
            run.result(acc=0.9)
    out = invoke("compare", "HEAD~1", "HEAD").output
    assert "30 values in 0.00" in out and "…0.1" in out
    assert max(len(line) for line in out.splitlines()) <= 80


SWEEP = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--learning_rate", type=float, default=0.0)
p.add_argument("--penalty", default="l2")
a = p.parse_args()
print(f"gitxp: valid_acc={1 - (a.learning_rate - 0.3) ** 2:.4f}")
"""


def test_sweep_output_at_80_columns(repo: Path, narrow: None, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "s.py", SWEEP)
    result = invoke(
        "run", "--grid", "learning_rate=0:0.1:0.5", "--grid", "penalty=l1,elasticnet-with-a-long-name",
        "--metric", "valid_acc:max", "--", sys.executable, "s.py", "--learning_rate", "0", "--penalty", "l2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    check("sweep", result.output)
    progress = [line for line in result.output.splitlines() if line.startswith("#")]
    assert len(progress) == 12 and progress[0].startswith("#1 finished valid_acc=0.91 learning_rate=0")
    assert all(len(line) <= 80 for line in progress)
