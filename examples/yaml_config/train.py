"""Linear regression trained by mini-batch SGD, configured by a YAML file; knows nothing about gitxp.

It reports its curve and result on stdout in gitxp's format, and also writes HyperTrainer-style metric files
when $GITXP_OUTPUT_DIR is set:

    gitxp run --grid training.learning_rate=1e-3:l4:1e-1 --config config.yaml -- python train.py {config}
    gitxp run --space config.yaml --strategy tpe -n 12 --metric valid_loss:min --config config.yaml \\
        -- python train.py {config}
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import yaml


def main(path: str) -> None:
    cfg = yaml.safe_load(Path(path).read_text())
    rng = np.random.default_rng(cfg["data"]["seed"])
    n, dim = cfg["data"]["n_samples"], 8
    x = rng.normal(size=(n, dim))
    w_true = rng.normal(size=dim)
    y = x @ w_true + cfg["data"]["noise"] * rng.normal(size=n)
    x_train, y_train, x_valid, y_valid = x[: n * 3 // 4], y[: n * 3 // 4], x[n * 3 // 4 :], y[n * 3 // 4 :]
    w = np.zeros(dim)
    lr, l2 = cfg["training"]["learning_rate"], cfg["model"]["l2"]
    batch = cfg["training"]["batch_size"]
    out = os.environ.get("GITXP_OUTPUT_DIR")
    curve = open(Path(out) / "metric_train_loss.log", "w") if out else None
    for epoch in range(cfg["training"]["epochs"]):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            grad = x_train[idx].T @ (x_train[idx] @ w - y_train[idx]) / len(idx) + l2 * w
            w -= lr * grad
        train_loss = float(np.mean((x_train @ w - y_train) ** 2))
        valid_loss = float(np.mean((x_valid @ w - y_valid) ** 2))
        print(f"gitxp: step={epoch} valid_loss={valid_loss:.6f}")
        if curve:
            curve.write(f"{epoch}\t{train_loss}\n")
    if curve:
        curve.close()
    print(f"gitxp: valid_loss={valid_loss:.6f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "config.yaml")
