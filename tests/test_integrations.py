"""Framework integrations on tiny real models, on CPU: scikit-learn, Lightning, transformers, Keras (torch
backend), and a Hydra app with a config group. Frameworks are imported in this one file (import time dominates)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gitxp
from tests.conftest import git

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def runs() -> list[dict]:
    return gitxp.load(sort="started").to_pylist()


def curves(run_id: str) -> dict[str, list[tuple[int, float]]]:
    found: dict[str, list[tuple[int, float]]] = {}
    for point in gitxp.metrics(run_id).to_pylist():
        found.setdefault(point["name"], []).append((point["step"], point["value"]))
    return found


def test_sklearn_estimator_defaults_and_search_children(repo: Path) -> None:
    pytest.importorskip("sklearn")
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    from gitxp.integrations.sklearn import log_estimator, log_search

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    with gitxp.start() as run:
        log_estimator(LogisticRegression(C=0.5))
        search = GridSearchCV(LogisticRegression(max_iter=200), {"C": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
        children = log_search(search)
    rows = {row["run_id"]: row for row in runs()}
    parent = rows[run.id]
    assert (
        parent["params.C"] == 0.5 and parent["params.max_iter"] == 100 and parent["params.solver"] == "lbfgs"
    )
    assert parent["params.estimator"] == "LogisticRegression"
    assert parent["results.best_params.C"] == search.best_params_["C"]
    assert parent["results.best_score"] == pytest.approx(search.best_score_)
    assert len(children) == 3 and len(rows) == 4
    for index, child_id in enumerate(children):
        child = rows[child_id]
        assert child["meta.parent"] == run.id and child["params.C"] == [0.1, 1.0, 10.0][index]
        assert child["params.max_iter"] == 200  # the searched estimator's own defaults/settings
        assert child["results.mean_test_score"] == pytest.approx(search.cv_results_["mean_test_score"][index])
        assert child["results.rank_test_score"] == search.cv_results_["rank_test_score"][index]


def test_lightning_logger_records_params_steps_and_checkpoints(repo: Path, tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    import lightning as L
    import torch

    from gitxp.integrations.lightning import GitxpLogger

    class Net(L.LightningModule):
        def __init__(self, lr: float = 0.05, hidden: int = 8) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
            )

        def training_step(self, batch, index):  # type: ignore[no-untyped-def]
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    logger = GitxpLogger()
    trainer = L.Trainer(
        max_epochs=2,
        logger=logger,
        log_every_n_steps=1,
        default_root_dir=str(tmp_path),
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(Net(lr=0.02), torch.utils.data.DataLoader(data, batch_size=8))
    (row,) = runs()
    assert row["run_id"] == logger.version and row["status"] == "finished"
    assert row["params.lr"] == 0.02 and row["params.hidden"] == 8
    loss = curves(row["run_id"])["train_loss"]
    assert [step for step, _ in loss] == list(range(8))
    listing = subprocess.run(
        [sys.executable, "-m", "gitxp", "artifacts", row["run_id"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "checkpoints/epoch=1-step=8.ckpt" in listing


def test_transformers_callback_with_a_tiny_random_model(repo: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    from gitxp.integrations.transformers import GitxpCallback

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        num_labels=2,
    )
    model = BertForSequenceClassification(config)

    class Data(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return 16

        def __getitem__(self, i: int) -> dict:
            return {"input_ids": torch.tensor([1, 2 + i % 5, 3, 4]), "labels": torch.tensor(i % 2)}

    args = TrainingArguments(
        output_dir=str(tmp_path / "hf"),
        num_train_epochs=2,
        per_device_train_batch_size=4,
        learning_rate=3e-3,
        logging_steps=1,
        save_strategy="steps",
        save_steps=8,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    Trainer(model=model, args=args, train_dataset=Data(), callbacks=[GitxpCallback()]).train()
    (row,) = runs()
    assert row["status"] == "finished" and row["params.learning_rate"] == 3e-3
    assert row["params.num_train_epochs"] == 2 and row["params.model.hidden_size"] == 16
    loss = curves(row["run_id"])["loss"]
    assert [step for step, _ in loss] == list(range(1, 9))
    from gitxp.store import Store
    from gitxp.store.artifacts import list_artifacts

    names = {entry["name"] for entry in list_artifacts(Store.open(), row["run_id"])}
    assert "checkpoint-8/model.safetensors" in names and "checkpoint-8/trainer_state.json" in names


def test_keras_callback_with_the_torch_backend(repo: Path) -> None:
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    import numpy as np

    from gitxp.integrations.keras import GitxpCallback

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    x, y = np.random.rand(32, 4).astype("float32"), np.random.rand(32, 1).astype("float32")
    model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0, callbacks=[GitxpCallback()])
    (row,) = runs()
    assert row["params.epochs"] == 3 and row["params.optimizer.learning_rate"] == pytest.approx(0.01)
    assert row["params.optimizer.name"] == "Adam"
    found = curves(row["run_id"])
    assert [s for s, _ in found["loss"]] == [0, 1, 2] and [s for s, _ in found["val_loss"]] == [0, 1, 2]


def test_integration_inside_gitxp_run_gives_one_run(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("sklearn")
    (repo / "fit.py").write_text(
        "from sklearn.linear_model import Ridge\n"
        "from gitxp.integrations.sklearn import log_estimator\n"
        "log_estimator(Ridge())\n"
        "print('gitxp: r2=0.5')\n"
    )
    git(repo, "add", "fit.py")
    git(repo, "commit", "-qm", "fit")
    assert invoke("run", "--", sys.executable, "fit.py").exit_code == 0
    (row,) = runs()
    assert row["params.alpha"] == 1.0 and row["params.estimator"] == "Ridge" and row["results.r2"] == 0.5


HYDRA_APP = """
    import hydra
    from omegaconf import DictConfig

    @hydra.main(version_base=None, config_path="conf", config_name="config")
    def main(cfg: DictConfig) -> None:
        print(f"gitxp: score={cfg.optimizer.lr * cfg.epochs}")

    main()
"""


def test_hydra_params_as_overrides_composed_config_as_params_and_rerun_set(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("hydra")
    (repo / "conf" / "optimizer").mkdir(parents=True)
    (repo / "conf" / "config.yaml").write_text(
        "defaults:\n  - optimizer: sgd\n  - _self_\nepochs: 3\nname: demo\n"
    )
    (repo / "conf" / "optimizer" / "sgd.yaml").write_text("kind: sgd\nlr: 0.5\nmomentum: 0.9\n")
    (repo / "conf" / "optimizer" / "adam.yaml").write_text("kind: adam\nlr: 0.001\nbetas: [0.9, 0.999]\n")
    (repo / "hyd.py").write_text(textwrap.dedent(HYDRA_APP))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "hydra app")
    result = invoke("run", "-p", "optimizer.lr=0.1", "--", sys.executable, "hyd.py")
    assert result.exit_code == 0, result.output
    (row,) = runs()
    assert row["params.optimizer.lr"] == 0.1 and row["results.score"] == pytest.approx(0.3)
    assert row["params.optimizer.momentum"] == 0.9 and row["params.epochs"] == 3  # defaults filled in
    assert row["params.name"] == "demo" and row["params.optimizer.kind"] == "sgd"
    assert git(repo, "status", "--porcelain") == ""  # Hydra's outputs went to the run's output dir
    group = invoke("run", "-p", "optimizer=adam", "--", sys.executable, "hyd.py")
    assert group.exit_code == 0, group.output
    adam = runs()[-1]
    assert adam["params.optimizer.kind"] == "adam" and adam["params.optimizer.betas"] == [0.9, 0.999]
    again = invoke("rerun", row["run_id"], "--set", "optimizer.lr=0.2")
    assert again.exit_code == 0, again.output
    last = runs()[-1]
    assert last["params.optimizer.lr"] == 0.2 and last["results.score"] == pytest.approx(0.6)
    assert last["params.optimizer.momentum"] == 0.9


def test_frameworks_load_only_when_used_and_are_listed(repo: Path) -> None:
    code = (
        "import sys, gitxp\n"
        "from click.testing import CliRunner\n"
        "from gitxp.cli import cli\n"
        "CliRunner().invoke(cli, ['ls'])\n"
        "out = CliRunner().invoke(cli, ['plugins']).output\n"
        "heavy = [m for m in ('lightning', 'transformers', 'keras', 'sklearn', 'hydra', 'tbparse', 'torch')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(out)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, check=True, capture_output=True, text=True
    ).stdout
    for name in ("hydra", "tensorboard", "lightning", "transformers", "keras", "sklearn"):
        assert f"gitxp.integrations.{name}" in out
