"""Reproducing a run anywhere: its environment, its declared inputs and its entry point recorded and checked,
and reruns that apply only what the run's own command can take (issues 22 and 20.3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
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
    assert (
        invoke("run", "-p", "epochs=5", "--", sys.executable, "a.py", "--epochs", "{epochs}").exit_code == 0
    )
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
    files = [
        p
        for p in git(repo, "ls-tree", "-r", "--name-only", "refs/gitxp/runs").split()
        if p.startswith("envs/")
    ]
    assert sorted(files) == sorted(
        {f"envs/{h}.json" for h in hashes}
    )  # one file per environment, not per run
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
    assert {"name": "fakepkg", "a": "1.0", "b": "2.0", "change": "changed"} in as_json["environment"][0][
        "packages"
    ]
    # the dashboard's run and compare pages show the same
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from gitxp.store import Store
    from gitxp.ui.server import create_app

    client = TestClient(
        create_app(Store.open(repo)), raise_server_exceptions=False, base_url="http://127.0.0.1"
    )
    page = client.get(f"/api/run/{runs[0]['run_id']}").json()
    assert page["environment"]["packages"]["fakepkg"] == "1.0"
    board = client.get("/api/compare", params={"a": runs[0]["run_id"], "b": runs[6]["run_id"]}).json()
    assert "fakepkg 1.0 → 2.0" in board["environment"][0]["lines"]


def test_rerun_warns_naming_each_differing_package(repo: Path, invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(repo, "t.py", "import gitxp\nwith gitxp.start() as r: r.result(x=1)\n")
    _python(repo, None, _fake_dist(tmp_path / "o", "fakepkg", "1.0"), argv=["t.py"])
    run = latest()
    for extra in (("--dry-run",), ("--verify",)):
        result = invoke("rerun", run["run_id"], *extra)
        assert result.exit_code == 0, result.output
        assert "environment differs" in result.output and "- fakepkg 1.0" in result.output
    assert "reproduced" in result.output
    plan = invoke("rerun", run["run_id"], "--dry-run", "--format", "json").output
    assert any("- fakepkg 1.0" in line for line in json.loads(plan[plan.index("{") :])["differences"])


# ---------------------------------------------------------------------------------------------- 22.2 inputs


def _sha(path: Path) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_declared_inputs_recorded_compared_and_verified(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    (repo / ".gitignore").write_text("*.ckpt\ndata/\n")
    git(repo, "commit", "-qam", "ignore data")
    data = repo / "data"
    (data / "images").mkdir(parents=True)
    (data / "train.csv").write_text("x\n1\n2\n")
    (data / "images" / "a.txt").write_text("a")
    (data / "images" / "b.txt").write_text("b")
    write(repo, "t.py", "rows = open('data/train.csv').read().split()[1:]\nprint(f'gitxp: n={len(rows)}')\n")
    args = ("run", "--input", "data/train.csv", "--input", "data/images", "--", sys.executable, "t.py")
    assert invoke(*args).exit_code == 0
    first = latest()
    recorded = {line.split(" ", 2)[2]: line.split(" ", 2)[0] for line in first["meta.inputs"]}
    assert recorded["data/train.csv"] == _sha(data / "train.csv")
    assert recorded["data/images"].startswith("sha256:") and first["results.n"] == 2
    assert "data/train.csv" in invoke("show", first["run_id"]).output
    # the rerun reads the same (untracked) data from the user's tree; unchanged: no warning
    verified = invoke("rerun", first["run_id"], "--verify")
    assert verified.exit_code == 0 and "input" not in verified.output.replace("--input", ""), verified.output
    # the data changes: compare says which input differs, rerun --verify names it
    (data / "train.csv").write_text("x\n1\n2\n3\n")
    (data / "images" / "b.txt").write_text("B")
    assert invoke(*args).exit_code == 0
    second = latest()
    compared = invoke("compare", first["run_id"], second["run_id"])
    assert "inputs that differ" in compared.output
    assert "data/train.csv" in compared.output and "data/images" in compared.output
    bad = invoke("rerun", first["run_id"], "--verify")
    assert bad.exit_code == 1 and "input data/train.csv changed" in bad.output
    assert "input data/images changed" in bad.output


def test_input_from_python_decorator_and_dvc(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    (repo / "big.bin.dvc").write_text(
        "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 42\n  path: big.bin\n"
    )
    (repo / "small.txt").write_text("hello")
    write(
        repo,
        "d.py",
        "import gitxp\n\n@gitxp.experiment(inputs=['small.txt'])\ndef f(a: int = 1) -> dict:\n"
        "    gitxp.current().input('big.bin')\n    return {'x': a}\n\nif __name__ == '__main__':\n    f()\n",
    )
    _python(repo, None, argv=["d.py"])
    lines = latest()["meta.inputs"]
    assert "md5:0123456789abcdef0123456789abcdef 42 big.bin" in lines  # DVC's hash, no hashing of the data
    assert f"{_sha(repo / 'small.txt')} 5 small.txt" in lines
    assert json.loads(
        (repo / ".git" / "gitxp" / "inputs.json").read_text()
    )  # hashes cached by (path, size, ...)
    missing = invoke("run", "--input", "nope.csv", "--", sys.executable, "d.py")
    assert missing.exit_code == 2 and "nope.csv" in missing.output


# ---------------------------------------------------------------------------------------------- 22.3 entry points


def test_runs_made_from_python_are_rerun_and_verified(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "train.py",
        "import argparse, gitxp\np = argparse.ArgumentParser(); p.add_argument('--lr', type=float)\n"
        "p.add_argument('scale', type=float)\na = p.parse_args()\n"
        "with gitxp.start(params={'lr': a.lr, 'scale': a.scale}) as run:\n"
        "    run.result(score=a.lr * a.scale)\n",
    )
    _python(repo, None, argv=["train.py", "--lr", "0.5", "3"])
    original = latest()
    assert original["meta.entrypoint.script"] == "train.py" and original["meta.argv"] == [
        "train.py",
        "--lr",
        "0.5",
        "3",
    ]
    (repo / "train.py").write_text("raise SystemExit('the code moved on')\n")  # the rerun uses the run's code
    verified = invoke("rerun", original["run_id"], "--verify")
    assert verified.exit_code == 0, verified.output
    assert latest()["results.score"] == 1.5 and latest()["meta.rerun_of"] == original["run_id"]
    over = invoke("rerun", original["run_id"], "--set", "lr=2")  # reaches the script through its --lr flag
    assert over.exit_code == 0, over.output
    assert latest()["results.score"] == 6.0 and latest()["params.lr"] == 2
    refused = invoke("rerun", original["run_id"], "--set", "scale=2")  # a positional argument: not applied
    assert refused.exit_code == 2 and "never receives 'scale'" in refused.output


def test_optimize_trial_reruns_with_its_params_fixed(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "objectives.py",
        "def objective(run):\n    x = run.uniform('x', -2.0, 2.0)\n    kind = run.categorical('kind', ['a', 'b'])\n"
        "    return (x - 0.3) ** 2 + (kind == 'b')\n",
    )
    write(
        repo,
        "search.py",
        "import gitxp\nfrom objectives import objective\n"
        "if __name__ == '__main__':\n    gitxp.optimize(objective, 3, experiment='opt', strategy='random', seed=1)\n"
        "    gitxp.optimize(lambda run: run.uniform('y', 0, 1), 1, experiment='lam', strategy='random')\n",
    )
    write(
        repo,
        "asks.py",
        "import gitxp\nsweep = gitxp.Sweep(experiment='asked', strategy='tpe')\n"
        "for _ in range(2):\n    with sweep.ask() as run:\n        run.result(loss=run.uniform('z', 0, 1))\n",
    )
    _python(repo, None, argv=["search.py"])
    _python(repo, None, argv=["asks.py"])
    trial = gitxp.load(experiment="opt").to_pylist()[1]
    assert trial["meta.entrypoint"] == "objectives:objective" and trial["meta.entrypoint.call"] == "run"
    verified = invoke("rerun", trial["run_id"], "--verify", "--format", "json")
    assert verified.exit_code == 0, verified.output
    again = latest()
    assert (again["params.x"], again["params.kind"]) == (
        trial["params.x"],
        trial["params.kind"],
    )  # not re-sampled
    assert again["results.loss"] == trial["results.loss"]
    lam = gitxp.load(experiment="lam").to_pylist()[0]
    assert "lambda" in lam["meta.entrypoint.why_not"]
    refused = invoke("rerun", lam["run_id"])
    assert refused.exit_code == 2 and "cannot be re-run" in refused.output and "lambda" in refused.output
    asked = gitxp.load(experiment="asked").to_pylist()[0]
    verified = invoke("rerun", asked["run_id"], "--verify")  # the script again; its first ask() is the trial
    assert verified.exit_code == 0, verified.output
    again = latest()
    assert again["params.z"] == asked["params.z"] and again["results.loss"] == asked["results.loss"]
    assert (
        again["experiment"] == "asked" and gitxp.load(experiment="asked").num_rows == 3
    )  # one trial, not two


def test_bisect_reports_a_changed_input_as_a_cause(repo: Path) -> None:
    import os
    import subprocess

    from test_wrapper import GITXP

    (repo / ".gitignore").write_text("*.ckpt\ndata.txt\n")
    (repo / "train.py").write_text("level = float(open('data.txt').read())\nprint(f'gitxp: acc={level}')\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "good end")
    (repo / "data.txt").write_text("0.9\n")
    for _ in range(3):  # the good end's runs, made with the old data
        proc = subprocess.run([*GITXP, "run", "-e", "t", "--input", "data.txt", "--", sys.executable, "train.py"],
                              cwd=repo, capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    good = git(repo, "rev-parse", "HEAD")
    for i in range(3):  # code changes that change nothing
        (repo / "notes.txt").write_text(f"{i}\n")
        git(repo, "add", "notes.txt")
        git(repo, "commit", "-qm", f"note {i}")
    (repo / "data.txt").write_text("0.8\n")  # the data changed, not the code
    run_id = gitxp.load("t").to_pylist()[0]["run_id"]
    proc = subprocess.run(
        [*GITXP, "bisect", "--good", good, "--bad", "HEAD", "--metric", "acc:max", run_id],
        cwd=repo, capture_output=True, text=True, env={**os.environ},
    )  # fmt: skip
    assert "input data.txt differs between the runs of" in proc.stdout, proc.stdout + proc.stderr
    assert "may come from the data" in proc.stdout


# ---------------------------------------------------------------------------------------------- 22.4 integrations


def _files_outside_git(repo: Path) -> set[str]:
    return {
        p.relative_to(repo).as_posix()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def test_lightning_checkpoints_stay_out_of_the_work_tree_and_follow_its_retention(repo: Path) -> None:
    pytest.importorskip("lightning")
    import lightning as L
    import torch

    from gitxp.integrations.lightning import GitxpLogger
    from gitxp.store import Store
    from gitxp.store.artifacts import list_artifacts

    class Net(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(4, 1)

        def training_step(self, batch, index):  # type: ignore[no-untyped-def]
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.SGD(self.parameters(), lr=0.01)

    before = _files_outside_git(repo)
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.randn(16, 1))
    logger = GitxpLogger()
    trainer = L.Trainer(max_epochs=3, logger=logger, enable_progress_bar=False, enable_model_summary=False,
                        accelerator="cpu")  # fmt: skip
    trainer.fit(Net(), torch.utils.data.DataLoader(data, batch_size=8))
    assert _files_outside_git(repo) == before  # nothing written into the working tree
    names = sorted(e["name"] for e in list_artifacts(Store.open(), logger.version))
    assert names == ["checkpoints/epoch=2-step=6.ckpt"]  # Lightning kept the last one only (save_top_k=1)
    assert list((repo / ".git" / "gitxp" / "outputs" / logger.version).rglob("epoch=2-step=6.ckpt"))


def test_hf_trainer_default_output_dir_is_the_runs_and_retention_is_mirrored(repo: Path) -> None:
    pytest.importorskip("transformers")
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    from gitxp.integrations.transformers import GitxpCallback
    from gitxp.store import Store
    from gitxp.store.artifacts import list_artifacts

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16, num_labels=2)  # fmt: skip

    class Data(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return 16

        def __getitem__(self, i: int) -> dict:
            return {"input_ids": torch.tensor([1, 2 + i % 5, 3, 4]), "labels": torch.tensor(i % 2)}

    before = _files_outside_git(repo)
    args = TrainingArguments(num_train_epochs=2, per_device_train_batch_size=4, save_strategy="steps", save_steps=4,
                             save_total_limit=1, report_to=[], use_cpu=True, disable_tqdm=True)  # fmt: skip
    callback = GitxpCallback()
    Trainer(
        model=BertForSequenceClassification(config), args=args, train_dataset=Data(), callbacks=[callback]
    ).train()
    assert _files_outside_git(repo) == before
    names = {e["name"].split("/")[0] for e in list_artifacts(Store.open(), callback.run.id)}
    assert names == {"checkpoint-8"}  # save_total_limit=1: the Trainer deleted checkpoint-4


def test_a_command_run_by_another_python_records_no_environment_of_gitxps(
    repo: Path, invoke, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import venv

    other = tmp_path / "other-venv"
    venv.EnvBuilder(with_pip=False).create(other)
    write(repo, "p.py", "print('gitxp: x=1')\n")
    assert invoke("run", "--", str(other / "bin" / "python"), "p.py").exit_code == 0
    row = latest()
    assert row["meta.environment"] is None and "not recorded" in row["meta.environment.note"]
    assert invoke("run", "--", sys.executable, "p.py").exit_code == 0
    assert latest()["meta.environment"]  # gitxp's own python: its environment


def test_environments_travel_with_pull(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke
) -> None:  # type: ignore[no-untyped-def]
    _python(
        repo,
        "import gitxp\nwith gitxp.start() as r: r.result(x=1)\n",
        _fake_dist(tmp_path / "a", "fakepkg", "1.0"),
    )
    theirs = latest()["run_id"]
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    _python(
        clone,
        "import gitxp\nwith gitxp.start() as r: r.result(x=2)\n",
        _fake_dist(tmp_path / "b", "fakepkg", "2.0"),
    )
    monkeypatch.chdir(clone)
    assert invoke("pull", "origin").exit_code == 0
    ours = [r["run_id"] for r in gitxp.load().to_pylist() if r["run_id"] != theirs][0]
    diff = invoke("env", "diff", theirs, ours)
    assert diff.exit_code == 1 and "fakepkg 1.0 → 2.0" in diff.output, diff.output
    assert any(
        p.startswith("envs/") for p in git(clone, "ls-tree", "-r", "--name-only", "refs/gitxp/runs").split()
    )


def test_an_objective_in_an_unguarded_script_says_why_it_cannot_be_rerun(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "loose.py",
        "import gitxp\ndef objective(run):\n    return run.uniform('x', 0, 1)\n"
        "gitxp.optimize(objective, 1, experiment='loose', strategy='random', seed=0)\n",
    )
    _python(repo, None, argv=["loose.py"])
    row = latest()
    assert row["meta.entrypoint"] == "loose.py:objective" and "guard" in row["meta.entrypoint.why_not"]
    refused = invoke("rerun", row["run_id"])
    assert refused.exit_code == 2 and "would run the whole script" in refused.output
    assert gitxp.load().num_rows == 1


def test_an_upgrade_in_place_is_a_new_environment(repo: Path, tmp_path: Path) -> None:
    import shutil

    site = _fake_dist(tmp_path / "site", "fakepkg", "1.0")
    code = "import gitxp\nwith gitxp.start() as r: r.result(x=1)\n"
    _python(repo, code, site)
    first = latest()["meta.environment"]
    shutil.rmtree(site / "fakepkg-1.0.dist-info")  # as pip upgrades: the old dist-info goes, a new one comes
    _fake_dist(site, "fakepkg", "1.1")
    _python(repo, code, site)
    second = latest()["meta.environment"]
    assert second != first
    from gitxp.store import Store, envs

    assert envs.load(Store.open(repo), second)["packages"]["fakepkg"] == "1.1"  # type: ignore[index]


def test_dashboard_pages_show_environment_and_inputs_in_a_browser(repo: Path, tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    from test_ui_browser import CHROMIUM, _need_browser
    from ui_helpers import start_ui, stop

    sync_playwright = _need_browser()
    (repo / "data.csv").write_text("1\n")
    code = "import gitxp\nwith gitxp.start() as r:\n    r.input('data.csv'); r.result(x=1)\n"
    _python(repo, code, _fake_dist(tmp_path / "a", "fakepkg", "1.0"))
    (repo / "data.csv").write_text("2\n")
    _python(repo, code, _fake_dist(tmp_path / "b", "fakepkg", "2.0"))
    a, b = [r["run_id"] for r in gitxp.load(sort="started").to_pylist()]
    server, url = start_ui(repo)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{url}/#/run/{a}")
            page.wait_for_selector("#environment")
            assert "packages" in page.inner_text("#environment") and "data.csv" in page.inner_text("#inputs")
            page.click("#environment summary")  # the package list opens
            assert "fakepkg\t1.0" in page.inner_text("#environment")
            page.goto(f"{url}/#/compare?a={a}&b={b}")
            page.wait_for_selector("#env-diff")
            assert "fakepkg 1.0 → 2.0" in page.inner_text("#env-diff")
            assert "data.csv" in page.inner_text("#inputs-diff")
            assert errors == []
            browser.close()
    finally:
        stop(server)


def test_the_input_hash_cache_keeps_one_entry_per_path_and_a_bounded_number(tmp_path: Path) -> None:
    """A data file rewritten before every run added an entry per version of it, forever (.git/gitxp/inputs.json)."""
    from gitxp.store.inputs import _Cache

    data = tmp_path / "data.csv"
    for i in range(5):
        data.write_text(f"rows {i}\n" * (i + 1))
        cache = _Cache(tmp_path)
        digest, size = cache.sha256(data)
        assert f"sha256:{digest}" == _sha(data) and size == data.stat().st_size
        cache.save()
    kept = json.loads((tmp_path / "inputs.json").read_text())
    assert list(kept) == [str(data)] and f"sha256:{kept[str(data)][3]}" == _sha(data)
    cache = _Cache(tmp_path)
    cache.MAX_PATHS = 3
    for i in range(5):
        (tmp_path / f"f{i}").write_text(str(i))
        cache.sha256(tmp_path / f"f{i}")
    cache.save()
    assert list(json.loads((tmp_path / "inputs.json").read_text())) == [
        str(tmp_path / f"f{i}") for i in (2, 3, 4)
    ]
