"""A small real training script recorded with two lines of gitxp.

Trains a linear classifier with SGD on scikit-learn's bundled digits data set (no download), logs the
validation accuracy after every epoch, and returns the final scores. Run it a few times with different params:

    python train_digits.py --alpha 1e-4 --epochs 20
    gitxp ls --sort -results.valid_acc
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import gitxp


@gitxp.experiment(name="digits", metric="valid_acc:max")
def train(alpha: float = 1e-4, epochs: int = 15, loss: str = "hinge", seed: int = 0) -> dict[str, float]:
    x, y = load_digits(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.25, random_state=seed)
    scaler = StandardScaler().fit(x_train)
    x_train, x_valid = scaler.transform(x_train), scaler.transform(x_valid)
    model = SGDClassifier(alpha=alpha, loss=loss, random_state=seed)
    run = gitxp.current()
    run.meta(dataset="sklearn digits", n_train=len(x_train))
    classes = np.unique(y)
    for epoch in range(epochs):
        model.partial_fit(x_train, y_train, classes=classes)
        run.log(step=epoch, train_acc=model.score(x_train, y_train), valid_acc=model.score(x_valid, y_valid))
    return {"valid_acc": model.score(x_valid, y_valid), "train_acc": model.score(x_train, y_train)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--loss", default="hinge", choices=["hinge", "log_loss", "modified_huber"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scores = train(alpha=args.alpha, epochs=args.epochs, loss=args.loss, seed=args.seed)
    print(f"valid_acc={scores['valid_acc']:.4f}")


if __name__ == "__main__":
    main()
