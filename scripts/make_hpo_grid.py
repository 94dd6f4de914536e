"""Tabulate the cross-validated error surfaces behind the ``hpo`` pair family.

Writes ``bo_transfer/problems/data/hpo_grid.npz``: for each scikit-learn bundled
data set (digits, wine, breast_cancer, iris) and each model, the 3-fold
stratified cross-validated misclassification rate on a regular grid over the
model's hyperparameters (in the log scale where that is customary).

Models:

- ``svm``: RBF support vector machine, log10 C in [-2, 4], log10 gamma in [-5, 1]
  (the classic 2-D tuning surface of Hsu, Chang and Lin, *A Practical Guide to
  Support Vector Classification*, 2003), on a 17 x 17 grid.
- ``sgd``: elastic-net logistic regression trained by SGD with a constant step,
  log10 alpha in [-6, 0], l1_ratio in [0, 1], log10 eta0 in [-4, 0], on a
  7 x 7 x 7 grid: three interacting hyperparameters, step size included.

Features are standardised inside each fold. Everything is seeded, so rerunning
the script reproduces the file bit for bit on the same library versions. Took
25 minutes on a busy two-core machine (digits dominates): ``python scripts/make_hpo_grid.py``.
"""

from __future__ import annotations

import itertools
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

OUT = Path(__file__).resolve().parents[1] / "bo_transfer" / "problems" / "data" / "hpo_grid.npz"
DATASETS = {
    "digits": datasets.load_digits,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "iris": datasets.load_iris,
}
#: Per model: (hyperparameter name, low, high, grid points), in grid order.
AXES = {
    "svm": [("log10_C", -2.0, 4.0, 17), ("log10_gamma", -5.0, 1.0, 17)],
    "sgd": [
        ("log10_alpha", -6.0, 0.0, 7),
        ("l1_ratio", 0.0, 1.0, 7),
        ("log10_eta0", -4.0, 0.0, 7),
    ],
}


def make_model(model: str, point: tuple[float, ...]):
    if model == "svm":
        log_c, log_gamma = point
        est = SVC(C=10**log_c, gamma=10**log_gamma, kernel="rbf")
    else:
        log_alpha, l1_ratio, log_eta0 = point
        est = SGDClassifier(
            loss="log_loss",
            penalty="elasticnet",
            alpha=10**log_alpha,
            l1_ratio=l1_ratio,
            learning_rate="constant",
            eta0=10**log_eta0,
            max_iter=10,
            tol=None,
            random_state=0,
        )
    return make_pipeline(StandardScaler(), est)


def cv_error(model: str, point: tuple[float, ...], X: np.ndarray, y: np.ndarray) -> float:
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        acc = cross_val_score(make_model(model, point), X, y, cv=folds, error_score=0.0)
    return float(1.0 - acc.mean())


def main() -> None:
    arrays: dict[str, np.ndarray] = {}
    for model, axes in AXES.items():
        grids = [np.linspace(lo, hi, n) for _, lo, hi, n in axes]
        for i in range(len(axes)):
            arrays[f"{model}/axis{i}"] = grids[i]
        arrays[f"{model}/names"] = np.array([a[0] for a in axes])
        for ds, load in DATASETS.items():
            X, y = load(return_X_y=True)
            t0 = time.perf_counter()
            values = [cv_error(model, p, X, y) for p in itertools.product(*grids)]
            arrays[f"{model}/{ds}"] = np.array(values).reshape([len(g) for g in grids])
            print(f"{model} {ds}: {time.perf_counter() - t0:.1f}s", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
