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


# ---------------------------------------------------------------------------------------------- 22.1 environment


def _fake_dist(folder: Path, name: str, version: str) -> Path:
    """A directory holding one installed distribution ``name==version`` (a dist-info with its METADATA)."""
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return folder


def _python(
    repo: Path, code: str | None, extra_path: Path | None = None, argv: list[str] | None = None
) -> str:
    """Run ``python -c code`` (or ``python *argv``) in ``repo``, ``extra_path`` first on its import path."""
    import os
    import subprocess

    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    args = argv if code is None else ["-c", code]
    proc = subprocess.run([sys.executable, *(args or [])], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_environment_recorded_once_per_environment_and_shown(repo: Path, invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import importlib.metadata

    old = _fake_dist(tmp_path / "old", "fakepkg", "1.0")
    new = _fake_dist(tmp_path / "new", "fakepkg", "2.0")
    _fake_dist(new, "addedpkg", "0.3")
    loop = "import gitxp\nfor i in range(3):\n    with gitxp.start(params={'i': i}) as r: r.result(x=i)\n"
    _python(repo, loop, old)
    _python(repo, loop, old)  # a second process: the same environment, from the cache
    _python(repo, "import gitxp\nwith gitxp.start() as r: r.result(x=9)\n", new)
    runs = gitxp.load(sort="started").to_pylist()
    hashes = [r["meta.environment"] for r in runs]
    assert len(set(hashes[:6])) == 1 and hashes[6] != hashes[0] and all(hashes)
    files = [p for p in git(repo, "ls-tree", "-r", "--name-only", "refs/gitxp/runs").split() if p.startswith("envs/")]
    assert sorted(files) == sorted({f"envs/{h}.json" for h in hashes})  # one file per environment, not per run
    shown = invoke("show", runs[0]["run_id"], "--env", "--format", "json")
    env = json.loads(shown.output)
    assert env["packages"]["fakepkg"] == "1.0"
    assert env["packages"]["pyarrow"] == importlib.metadata.version("pyarrow")
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    text = invoke("show", runs[0]["run_id"], "--env").output
    assert "fakepkg 1.0" in text
    # env diff, for scripts: exit 1 when they differ
    diff = invoke("env", "diff", runs[0]["run_id"], runs[6]["run_id"])
    assert diff.exit_code == 1 and "fakepkg 1.0 → 2.0" in diff.output and "+ addedpkg 0.3" in diff.output
    same = invoke("env", "diff", runs[0]["run_id"], runs[1]["run_id"])
    assert same.exit_code == 0 and "same environment" in same.output
    # compare names the packages that differ between the sides
    compared = invoke("compare", runs[0]["run_id"], runs[6]["run_id"])
    assert compared.exit_code == 0, compared.output
    assert "fakepkg 1.0 → 2.0" in compared.output and "+ addedpkg 0.3" in compared.output
    as_json = json.loads(invoke("compare", runs[0]["run_id"], runs[6]["run_id"], "--format", "json").output)
    assert {"name": "fakepkg", "a": "1.0", "b": "2.0", "change": "changed"} in as_json["environment"][0]["packages"]


def test_rerun_warns_naming_each_differing_package(repo: Path, invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(repo, "t.py", "import gitxp\nwith gitxp.start() as r: r.result(x=1)\n")
    _python(repo, None, _fake_dist(tmp_path / "o", "fakepkg", "1.0"), argv=["t.py"])
    run = latest()
    for extra in (("--dry-run",), ("--verify",)):
        result = invoke("rerun", run["run_id"], *extra)
        assert result.exit_code == 0, result.output
        assert "environment differs" in result.output and "- fakepkg 1.0" in result.output
    assert "reproduced" in result.output
