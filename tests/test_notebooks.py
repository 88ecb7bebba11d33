"""Runs recorded from a Jupyter kernel (issue 25, items 1-4): a real ipykernel driven by nbclient."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import git

import gitxp

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def notebook(cells: list[str]) -> Any:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])


def client(nb: Any, repo: Path, monkeypatch: pytest.MonkeyPatch, path: Path | None = None) -> Any:
    """A client whose kernel runs in ``repo`` with this checkout of gitxp importable; ``path`` is the notebook's
    file, told to the kernel as Jupyter's server does (``JPY_SESSION_NAME``)."""
    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    if path is not None:
        monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    return nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(repo)}}
    )


def execute(
    repo: Path, cells: list[str], monkeypatch: pytest.MonkeyPatch, *, name: str = "analysis.ipynb"
) -> Any:
    nb = notebook(cells)
    path = repo / name
    nbformat.write(nb, path)
    client(nb, repo, monkeypatch, path).execute()
    return nb


def text(cell: Any) -> str:
    out = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            out.append(output["text"])
        elif output.get("output_type") == "error":
            out.append("\n".join(output["traceback"]))
    return "".join(out)


def runs(repo: Path) -> list[dict[str, Any]]:
    return sorted(gitxp.load(path=repo).to_pylist(), key=lambda row: row["started"])


# ---------------------------------------------------------------------- item 4: in a kernel


def test_interrupting_the_kernel_during_optimize_records_the_trial_interrupted(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = repo / "started"
    nb = notebook(
        [
            "import gitxp, time",
            "def objective(run):\n"
            "    x = run.uniform('x', 0, 1)\n"
            "    open('started', 'w').close()\n"
            "    for step in range(200):\n"
            "        run.log(step=step, loss=x)\n"
            "        time.sleep(0.05)\n"
            "    return x\n"
            "gitxp.optimize(objective, n_trials=3, experiment='nb', strategy='random', seed=1)",
        ]
    )
    runner = client(nb, repo, monkeypatch)
    with runner.setup_kernel():
        runner.execute_cell(nb.cells[0], 0)

        def interrupt() -> None:
            for _ in range(600):
                if started.exists():
                    break
                time.sleep(0.05)
            os.kill(runner.km.provisioner.pid, signal.SIGINT)  # what the Jupyter interrupt button sends

        thread = threading.Thread(target=interrupt)
        thread.start()
        runner.execute_cell(nb.cells[1], 1)
        thread.join()
    assert "KeyboardInterrupt" in text(nb.cells[1])
    rows = runs(repo)
    assert [row["status"] for row in rows] == ["interrupted"]  # stopped at once: no further trial either
    assert len(gitxp.metrics(rows[0]["run_id"], path=repo)) < 200


def test_ctrl_c_during_optimize_in_a_script_records_interrupted(repo: Path) -> None:
    (repo / "search.py").write_text(
        "import gitxp, time\n"
        "def objective(run):\n"
        "    x = run.uniform('x', 0, 1)\n"
        "    open('started', 'w').close()\n"
        "    for step in range(200):\n"
        "        run.log(step=step, loss=x)\n"
        "        time.sleep(0.05)\n"
        "    return x\n"
        "gitxp.optimize(objective, n_trials=3, experiment='nb', strategy='random', seed=1)\n"
    )
    proc = subprocess.Popen([sys.executable, "search.py"], cwd=repo, env={**os.environ, **_env()})
    for _ in range(600):
        if (repo / "started").exists():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) != 0
    rows = runs(repo)
    assert [row["status"] for row in rows] == ["interrupted"]


def test_a_run_left_open_across_cells_is_current_and_not_failed_by_an_unrelated_error(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = execute(
        repo,
        [
            "import gitxp\nrun = gitxp.start(experiment='nb', params={'lr': 0.1})",
            "1 / 0",  # an unrelated typo, long handled
            "gitxp.current().result(acc=0.9)\nprint(gitxp.current() is run)",
        ],
        monkeypatch,
    )
    assert "ZeroDivisionError" in text(nb.cells[1])
    assert text(nb.cells[2]).strip() == "True"
    (row,) = runs(repo)
    assert row["status"] == "finished" and row["results.acc"] == 0.9
    assert row["meta.ended_by"] == "kernel shutdown"


def test_gitxp_run_from_a_cell_writes_no_progress_bar_codes(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = execute(
        repo,
        [
            f"!{sys.executable} -m gitxp run --allow-unused --grid a=1,2 -- "
            f"{sys.executable} -c \"import time; time.sleep(0.3); print('gitxp: x=1')\"",
        ],
        monkeypatch,
    )
    out = text(nb.cells[0])
    assert "sweep of 2 runs" in out
    for code in ("\x1b[?25l", "\x1b[2K", "\x1b[1A", "━"):  # hide cursor, erase line, cursor up, the bar
        assert code not in out  # (colours are fine: a notebook renders them)
    assert len(runs(repo)) == 2


def test_several_runs_of_a_notebook_executed_under_gitxp_run_stay_apart(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = notebook(
        [
            "import gitxp",
            "with gitxp.start(experiment='nb', params={'k': 0}) as run:\n    run.result(v=0)",
            "with gitxp.start(experiment='nb', params={'k': 1}) as run:\n    run.result(v=1)",
        ]
    )
    nbformat.write(nb, repo / "two.ipynb")
    git(repo, "add", "two.ipynb")
    git(repo, "commit", "-qm", "notebook")
    driver = (
        "import nbformat, nbclient\n"
        "nb = nbformat.read('two.ipynb', as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=120, kernel_name='python3').execute()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "gitxp", "run", "-e", "nb", "--", sys.executable, "-c", driver],
        cwd=repo,
        env={**os.environ, **_env()},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    rows = runs(repo)
    head = git(repo, "rev-parse", "--short=7", "HEAD")
    assert len(rows) == 2
    assert sorted(row["results.v"] for row in rows) == [0, 1]
    assert all(row["version"] == head for row in rows)  # each with its version, never "nogit"
    assert rows[1]["meta.parent"] == rows[0]["run_id"]
    json.dumps(rows, default=str)


# ---------------------------------------------------------------------- item 2: notebook versions ignore outputs

CELLS = [
    "import gitxp\nwith gitxp.start(experiment='nb', params={'a': 1}) as run:\n    run.result(x=1)\nrun",
    "import base64\nprint(base64.b64encode(run.id.encode() * 200).decode())",
]


def run_saved(repo: Path, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Execute the notebook at ``path`` and save it with its (new) outputs, as Jupyter's "Run all" + save."""
    nb = nbformat.read(path, as_version=4)
    client(nb, repo, monkeypatch, path).execute()
    nbformat.write(nb, path)


def test_executing_a_notebook_again_keeps_its_version_and_diffs_show_cell_sources(
    repo: Path, monkeypatch: pytest.MonkeyPatch, invoke: Any
) -> None:
    path = repo / "analysis.ipynb"
    nb = notebook(CELLS)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# Analysis"))
    nbformat.write(nb, path)
    run_saved(repo, path, monkeypatch)  # committed with outputs, as people do
    git(repo, "add", "analysis.ipynb")
    git(repo, "commit", "-qm", "notebook")
    head = git(repo, "rev-parse", "--short=7", "HEAD")
    run_saved(repo, path, monkeypatch)
    run_saved(repo, path, monkeypatch)
    first, second, third = runs(repo)
    assert first["version"] != head  # recorded before the commit
    assert second["version"] == third["version"] == head  # new outputs, same code: the commit's version
    out = invoke("show", third["run_id"], "--diff")
    assert "only notebook outputs differ" in out.output
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("x=1", "x=2")
    nbformat.write(nb, path)
    run_saved(repo, path, monkeypatch)
    fourth = runs(repo)[-1]
    assert fourth["version"].startswith(head + "+d.") and fourth["results.x"] == 2
    diff = invoke("show", fourth["run_id"], "--diff").output
    assert "-    run.result(x=1)" in diff and "+    run.result(x=2)" in diff
    assert '"outputs"' not in diff and "execution_count" not in diff and len(diff) < 2000
    code = invoke("compare", third["run_id"], fourth["run_id"], "--code", "--full").output
    assert "+    run.result(x=2)" in code and '"outputs"' not in code and len(code) < 4000
    stat = invoke("compare", third["run_id"], fourth["run_id"], "--code").output
    assert re.search(r"\n analysis\.ipynb +\| \+1 -1\n", stat)
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from gitxp.store import Store
    from gitxp.ui.server import create_app

    board = TestClient(
        create_app(Store.open(repo)), raise_server_exceptions=False, base_url="http://127.0.0.1"
    )
    shown = board.get(f"/api/run/{fourth['run_id']}").json()["diff"]  # the dashboard's run page
    assert "+    run.result(x=2)" in shown and '"outputs"' not in shown
    compared = board.get(f"/api/compare?a={third['run_id']}&b={fourth['run_id']}").json()
    assert "diff" in compared, compared
    assert "+    run.result(x=2)" in compared["diff"] and '"outputs"' not in compared["diff"]


# ---------------------------------------------------------------------- item 1: the code that ran


def test_a_kernel_run_records_the_executed_cells_unsaved_edits_and_stale_modules(
    repo: Path, monkeypatch: pytest.MonkeyPatch, invoke: Any
) -> None:
    (repo / "model.py").write_text("def f():\n    return 1\n")
    saved = ["import gitxp, model", "with gitxp.start(experiment='nb') as run:\n    run.result(v=model.f())"]
    path = repo / "analysis.ipynb"
    nbformat.write(notebook(saved), path)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "notebook")
    head = git(repo, "rev-parse", "--short=7", "HEAD")
    edited = "with gitxp.start(experiment='nb') as run:\n    run.result(v=model.f() * 10)"
    nb = notebook([saved[0], edited])  # the cell is edited in the browser, run, never saved
    runner = client(nb, repo, monkeypatch, path)
    with runner.setup_kernel():
        runner.execute_cell(nb.cells[0], 0)
        (repo / "model.py").write_text(
            "def f():\n    return 2\n"
        )  # edited on disk, the kernel keeps f() == 1
        runner.execute_cell(nb.cells[1], 1)
    (repo / "model.py").write_text("def f():\n    return 1\n")  # back as committed: the tree is HEAD again
    (row,) = runs(repo)
    assert row["results.v"] == 10
    assert row["meta.notebook.path"] == "analysis.ipynb" and row["meta.notebook.cells"] == 2
    assert row["meta.notebook.unsaved_cells"] == 1
    assert row["meta.notebook.stale_modules"] == ["model.py"]
    assert row["version"].startswith(head + "+d.")  # not the saved notebook's version
    shown = invoke("show", row["run_id"]).output
    assert "1 executed cell(s) differ from the saved notebook (analysis.ipynb)" in shown
    assert "changed on disk after the kernel imported them: model.py" in shown
    diff = invoke("show", row["run_id"], "--diff").output
    assert ".gitxp/executed/analysis.ipynb.py" in diff and "+    run.result(v=model.f() * 10)" in diff


def test_the_saved_notebook_executed_in_two_sessions_gives_one_version(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = repo / "analysis.ipynb"
    nbformat.write(
        notebook(["import gitxp", "with gitxp.start(experiment='nb') as run:\n    run.result(v=1)"]), path
    )
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "notebook")
    run_saved(repo, path, monkeypatch)
    run_saved(repo, path, monkeypatch)
    first, second = runs(repo)
    assert first["version"] == second["version"] == git(repo, "rev-parse", "--short=7", "HEAD")
    assert "meta.notebook.unsaved_cells" not in first or first["meta.notebook.unsaved_cells"] is None


# ---------------------------------------------------------------------- item 3: gitxp rerun of a kernel's run


def gx(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "gitxp", *args],
        cwd=repo,
        env={**os.environ, **_env()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_rerun_of_a_kernel_run_executes_its_cells_with_the_params_injected(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = notebook(
        [
            "lr = 0.1",
            "import gitxp\nwith gitxp.start(experiment='nb', params={'lr': lr}) as run:\n"
            "    run.result(score=lr * 10)",
        ]
    )
    nb.cells[0].metadata["tags"] = ["parameters"]  # as papermill wants it
    path = repo / "analysis.ipynb"
    nbformat.write(nb, path)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "notebook")
    client(nb, repo, monkeypatch, path).execute()
    (original,) = runs(repo)
    assert original["results.score"] == 1.0
    verify = gx(repo, "rerun", original["run_id"], "--verify")
    assert "reproduced" in (verify.stdout + verify.stderr).lower()
    proc = gx(repo, "rerun", original["run_id"], "--set", "lr=0.2")
    assert "no cell tagged 'parameters'" not in proc.stderr
    new = runs(repo)[-1]
    assert (repo / ".git" / "gitxp" / "outputs" / new["run_id"] / "rerun.ipynb").is_file()
    assert new["meta.rerun_of"] == original["run_id"]
    assert (
        new["params.lr"] == 0.2 and new["results.score"] == 2.0
    )  # the cell's variable changed, not only the record


def test_rerun_of_an_optimize_trial_made_in_a_kernel_calls_the_objective_once(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = repo / "search.ipynb"
    nb = notebook(
        [
            "import gitxp",
            "def objective(run):\n    x = run.uniform('x', 0, 1)\n    return (x - 0.3) ** 2",
            "gitxp.optimize(objective, n_trials=3, experiment='nb', strategy='random', seed=1)",
        ]
    )
    nbformat.write(nb, path)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "notebook")
    client(nb, repo, monkeypatch, path).execute()
    trials = runs(repo)
    assert len(trials) == 3 and all(row["meta.notebook.objective"] == "objective" for row in trials)
    verify = gx(repo, "rerun", trials[1]["run_id"], "--verify")
    assert "reproduced" in (verify.stdout + verify.stderr).lower()
    rows = runs(repo)
    assert len(rows) == 4  # one trial again, not the whole search
    assert (
        rows[-1]["params.x"] == trials[1]["params.x"]
        and rows[-1]["results.loss"] == trials[1]["results.loss"]
    )


def test_ctrl_c_during_optimize_with_trials_in_threads_records_each_interrupted(repo: Path) -> None:
    (repo / "search.py").write_text(
        "import gitxp, time\n"
        "def objective(run):\n"
        "    x = run.uniform('x', 0, 1)\n"
        "    open(f'started-{run.id}', 'w').close()\n"
        "    for step in range(200):\n"
        "        run.log(step=step, loss=x)\n"
        "        time.sleep(0.05)\n"
        "    return x\n"
        "gitxp.optimize(objective, n_trials=4, n_jobs=2, experiment='nb', strategy='random', seed=1)\n"
    )
    proc = subprocess.Popen([sys.executable, "search.py"], cwd=repo, env={**os.environ, **_env()})
    for _ in range(600):
        if len(list(repo.glob("started-*"))) == 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) != 0
    rows = runs(repo)
    assert [row["status"] for row in rows] == ["interrupted", "interrupted"]
    assert all(len(gitxp.metrics(row["run_id"], path=repo)) < 200 for row in rows)
