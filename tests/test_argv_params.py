"""Flags typed by hand are params: ``gitxp run -- python train.py --lr 0.05`` records ``lr = 0.05``, typed as
``-p`` values are, so a hand run and a swept run of the same script have the same columns."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import gitxp
from gitxp.space.argv import argv_params

SCRIPT = "import sys\nprint('gitxp: acc=0.5')\n"


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "train.py").write_text(SCRIPT)
    subprocess.run(["git", "commit", "-qam", "script"], cwd=repo, check=True)
    return repo


def _params(row: dict[str, object]) -> dict[str, object]:
    return {k[7:]: v for k, v in row.items() if k.startswith("params.") and v is not None}


def test_hand_typed_flags_are_recorded_typed(project: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    out = invoke(
        "run", "-e", "hand", "--", "python", "train.py", "--lr", "0.05", "--epochs=3", "--data-dir", "data/x",
        "--verbose", "--api-key", "s3cr3t", "--neg", "-1.5", "--flag", "true", "out.txt",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    (row,) = gitxp.load(experiment="hand").to_pylist()
    params = _params(row)
    assert params == {"lr": 0.05, "epochs": 3, "data_dir": "data/x", "neg": -1.5, "flag": True}
    assert all("s3cr3t" not in str(v) for v in row.values())


def test_a_hand_run_and_a_swept_run_have_the_same_columns(project: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    assert (
        invoke("run", "-e", "same", "--", "python", "train.py", "--lr", "0.05", "--bs", "32").exit_code == 0
    )
    swept = invoke(
        "run", "-e", "same", "--grid", "lr=0.01,0.1", "--", "python", "train.py", "--lr", "0.05", "--bs", "32"
    )
    assert swept.exit_code == 0, swept.output
    rows = gitxp.load(experiment="same", sort="started").to_pylist()
    assert [_params(r) for r in rows] == [
        {"lr": 0.05, "bs": 32},
        {"lr": 0.01, "bs": 32},
        {"lr": 0.1, "bs": 32},
    ]


def test_no_argv_params_and_templates(project: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    assert (
        invoke("run", "-e", "off", "--no-argv-params", "--", "python", "train.py", "--lr", "0.05").exit_code
        == 0
    )
    assert _params(gitxp.load(experiment="off").to_pylist()[0]) == {}
    assert (
        invoke("run", "-e", "tpl", "-p", "lr=0.1", "--", "python", "train.py", "--lr", "{lr}").exit_code == 0
    )
    assert _params(gitxp.load(experiment="tpl").to_pylist()[0]) == {"lr": 0.1}


def test_argv_params_parsing() -> None:
    assert argv_params(["python", "t.py", "--a", "1", "--b=x", "--", "--c", "2"]) == {"a": 1, "b": "x"}
    assert argv_params(["python t.py --lr 0.1 --token abc"], shell=True) == {"lr": 0.1}
    assert argv_params(["python", "t.py", "--learning-rate", "0.1"], skip=["learning-rate"]) == {}
    assert argv_params(["python", "t.py", "--x", "1", "--x", "2", "--password=p"]) == {"x": 2}
