"""Reproducing a run anywhere: its environment, its declared inputs and its entry point recorded and checked,
and reruns that apply only what the run's own command can take (issues 22 and 20.3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import git
from test_wrapper import write

import gitxp


def latest() -> dict:
    return gitxp.load(sort="-started", limit=1).to_pylist()[0]


def test_rerun_set_checks_this_runs_command_not_the_stores_columns(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "a.py",
        "import argparse\np = argparse.ArgumentParser(); p.add_argument('--epochs', type=int)\n"
        "print(f'gitxp: e={p.parse_args().epochs}')\n",
    )
    write(repo, "b.py", "print('gitxp: e=10')\n")
    assert invoke("run", "-p", "epochs=5", "--", sys.executable, "a.py", "--epochs", "{epochs}").exit_code == 0
    assert invoke("run", "--", sys.executable, "b.py").exit_code == 0
    other = latest()
    assert "params.epochs" in other  # the wide table has the column (from the other run)
    for extra in (("--dry-run",), ()):
        result = invoke("rerun", other["run_id"], "--set", "epochs=3", *extra)
        assert result.exit_code == 2, result.output
        assert "epochs" in result.output and "never receives" in result.output
    assert gitxp.load().num_rows == 2  # nothing recorded as params.epochs=3
    first = gitxp.load(sort="started").to_pylist()[0]
    assert invoke("rerun", first["run_id"], "--set", "epochs=3", "--dry-run").exit_code == 0
    assert invoke("rerun", first["run_id"], "--set", "epochs=3").exit_code == 0
    assert latest()["results.e"] == 3
