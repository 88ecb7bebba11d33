"""Defaults as params (argparse via gitxp.parse_args, decorated functions), HyperTrainer class-wise metric files,
and TensorBoard event files read into curves."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gitxp
from tests.conftest import git


def write(repo: Path, name: str, code: str) -> Path:
    path = repo / name
    path.write_text(textwrap.dedent(code))
    git(repo, "add", name)
    git(repo, "commit", "-qm", f"add {name}")
    return path


def runs() -> list[dict]:
    return gitxp.load(sort="started").to_pylist()


ARGPARSE = """
    import argparse
    import gitxp

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default={lr})
    parser.add_argument("--layers", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--name")
    args = gitxp.parse_args(parser)
    print(f"gitxp: acc={{args.lr * 2}}")
"""


def test_argparse_defaults_are_params_and_tell_runs_apart(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "args.py", ARGPARSE.format(lr=0.1))
    assert invoke("run", "--", sys.executable, "args.py").exit_code == 0
    write(repo, "args.py", ARGPARSE.format(lr=0.05))  # only the default changed
    given = invoke("run", "-p", "lr=0.3", "--", sys.executable, "args.py", "--lr", "0.2")
    assert given.exit_code == 0, given.output
    first, second = runs()
    assert first["params.lr"] == 0.1 and first["params.layers"] == [2, 3] and first["results.acc"] == 0.2
    assert "params.name" not in first or first["params.name"] is None
    assert (
        second["params.lr"] == 0.3 and second["results.acc"] == 0.6
    )  # -p reached argparse: one run, not two
    assert len(runs()) == 2


def test_argparse_without_gitxp_run_starts_a_run(repo: Path) -> None:
    write(repo, "args.py", ARGPARSE.format(lr=0.1))
    subprocess.run([sys.executable, "args.py", "--lr", "0.4"], cwd=repo, check=True)
    (row,) = runs()
    assert row["params.lr"] == 0.4 and row["params.layers"] == [2, 3] and row["status"] == "finished"


def test_decorated_function_defaults_are_params(repo: Path) -> None:
    @gitxp.experiment
    def train(lr: float = 0.1, depth: int = 3) -> float:
        return lr

    train(lr=0.5)
    (row,) = runs()
    assert row["params.lr"] == 0.5 and row["params.depth"] == 3


def test_classwise_metric_file_becomes_per_class_curves(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "ht.py",
        """
        import os
        out = os.environ["GITXP_OUTPUT_DIR"]
        with open(os.path.join(out, "metric_classwise_acc.log"), "w") as f:
            f.write("epoch\\tcat\\tdog\\n0\\t0.5\\t0.1\\n1\\t0.7\\t0.3\\n2\\t0.6\\t0.2\\n")
        with open(os.path.join(out, "metric_classwise_recall.log"), "w") as f:
            f.write("0\\t0.4\\t0.2\\t0.9\\n1\\t0.5\\t0.1\\t0.8\\n")
    """,
    )
    result = invoke("run", "--metric", "acc/dog:max", "--", sys.executable, "ht.py")
    assert result.exit_code == 0, result.output
    (row,) = runs()
    assert row["results.acc/dog.max"] == 0.3
    curves: dict[str, list[tuple[int, float]]] = {}
    for point in gitxp.metrics(row["run_id"]).to_pylist():
        curves.setdefault(point["name"], []).append((point["step"], point["value"]))
    assert curves["acc/cat"] == [(0, 0.5), (1, 0.7), (2, 0.6)]
    assert curves["recall/2"] == [(0, 0.9), (1, 0.8)] and curves["recall/0"] == [(0, 0.4), (1, 0.5)]
    assert not any(name.startswith("classwise") for name in curves)


def test_tensorboard_events_become_curves(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("tbparse")
    pytest.importorskip("torch.utils.tensorboard")
    write(
        repo,
        "tb.py",
        """
        import os
        from torch.utils.tensorboard import SummaryWriter
        out = os.environ["GITXP_OUTPUT_DIR"]
        for split, losses in (("train", [1.0, 0.5, 0.25]), ("val", [0.9, 0.4, 0.6])):
            writer = SummaryWriter(os.path.join(out, "logs", split))
            for step, loss in enumerate(losses):
                writer.add_scalar("loss", loss, step)
            writer.add_scalar(f"{split}_only", 1.5, 0)
            writer.close()
    """,
    )
    result = invoke("run", "--metric", "logs/val/loss:min", "--", sys.executable, "tb.py")
    assert result.exit_code == 0, result.output
    (row,) = runs()
    assert row["results.logs/val/loss.min"] == 0.4
    names = {point["name"] for point in gitxp.metrics(row["run_id"]).to_pylist()}
    assert names == {"logs/train/loss", "logs/val/loss", "train_only", "val_only"}


def test_import_gitxp_and_ls_load_no_framework(repo: Path) -> None:
    code = (
        "import sys, gitxp; from gitxp.cli import cli\n"
        "from click.testing import CliRunner\n"
        "CliRunner().invoke(cli, ['ls'])\n"
        "import gitxp.plugins; gitxp.plugins.get_plugin_manager()\n"
        "heavy = [m for m in ('tbparse', 'tensorboard', 'torch', 'lightning', 'transformers', 'keras',"
        " 'sklearn', 'hydra', 'fsspec') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True)
