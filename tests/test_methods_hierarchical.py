"""mhgp and shgp against their definitions, computed here in closed form with numpy.

The fitted hyperparameters of every level (lengthscales, output scale, noise,
constant mean, all in the level's standardized units) are read from the
methods' GPs; everything else (residuals, their standardization, the levels'
posteriors, the propagation of means and covariances) is recomputed here from
the raw data, level by level, as Golovin et al. (2017) and Tighineanu et al.
(2022, and their transfergpbo code) define the stacks.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bo_transfer.methods import make_method
from bo_transfer.methods.base import source_arrays
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import sobol

PAIRS = ["forrester", "gp:rho=0.9;0.5,dim=2"]


def rbf(A: np.ndarray, B: np.ndarray, lengthscale: np.ndarray) -> np.ndarray:
    d = (A[:, None, :] - B[None, :, :]) / lengthscale
    return np.exp(-0.5 * (d**2).sum(-1))


def _hyperparameters(model) -> dict:
    """A level GP's fitted hyperparameters, in its standardized units."""
    kernel = model.covar_module
    if hasattr(kernel, "kernels"):  # shgp: own kernel + the inherited covariance
        kernel = kernel.kernels[0]
    outputscale = 1.0
    if hasattr(kernel, "outputscale"):
        outputscale = float(kernel.outputscale.detach())
        kernel = kernel.base_kernel
    return {
        "lengthscale": kernel.lengthscale.detach().numpy().ravel(),
        "outputscale": outputscale,
        "noise": float(model.likelihood.noise.detach().squeeze()),
        "constant": float(model.mean_module.constant.detach()),
    }


class Stack:
    """A hierarchy of levels, each a GP on its values' residual from the posterior
    mean of the levels below; with ``propagate`` (SHGP) a level's prior
    covariance also adds the posterior covariance of the levels below. All in
    raw units: a level's residuals are standardized by their own mean ``a`` and
    standard deviation ``b``, so its kernel and noise scale by ``b^2``."""

    def __init__(self, propagate: bool) -> None:
        self.propagate = propagate
        self.levels: list[dict] = []

    def add(self, X: np.ndarray, values: np.ndarray, hp: dict) -> None:
        residual = values - self.mean(X)
        a, b = residual.mean(), residual.std(ddof=1)
        level = {"X": X, "a": a, "b": b, **hp}
        level["prior_mean"] = a + b * hp["constant"]
        below = len(self.levels) - 1
        K = self._prior_cov(level, below, X, X) + b**2 * hp["noise"] * np.eye(len(X))
        level["K_inv"] = np.linalg.inv(K)
        level["below"] = below
        level["r"] = residual - level["prior_mean"]
        self.levels.append(level)

    def _prior_cov(self, level: dict, below: int, x1, x2) -> np.ndarray:
        own = level["b"] ** 2 * level["outputscale"] * rbf(x1, x2, level["lengthscale"])
        if self.propagate and below >= 0:
            return own + self.cov(x1, x2, below)
        return own

    def mean(self, x: np.ndarray, top: int | None = None) -> np.ndarray:
        top = len(self.levels) - 1 if top is None else top
        if top < 0:
            return np.zeros(len(x))
        lvl = self.levels[top]
        k = self._prior_cov(lvl, lvl["below"], x, lvl["X"])
        return self.mean(x, top - 1) + lvl["prior_mean"] + k @ lvl["K_inv"] @ lvl["r"]

    def cov(self, x1: np.ndarray, x2: np.ndarray, top: int | None = None) -> np.ndarray:
        top = len(self.levels) - 1 if top is None else top
        lvl = self.levels[top]
        k1 = self._prior_cov(lvl, lvl["below"], x1, lvl["X"])
        k2 = self._prior_cov(lvl, lvl["below"], lvl["X"], x2)
        return self._prior_cov(lvl, lvl["below"], x1, x2) - k1 @ lvl["K_inv"] @ k2


def _run(method_name: str, pair_name: str):
    """The method started on 10 points per source, its acquisition fitted on 6
    target points; returns the method, the acquisition, the data and 5 test points."""
    pair = get_pair(pair_name)
    method = make_method(method_name)
    sources = pair.source_data(0, n_source=10)
    method.start(sources, pair.dim, seed=0)
    X = sobol(6, pair.dim, 7)
    y = pair.target(X)
    acq = method.acquisition(X, y)
    return method, acq, sources, X, y, sobol(5, pair.dim, 11)


def _reference(method, acq, sources, X, y, propagate: bool) -> Stack:
    stack = Stack(propagate)
    for (X_s, y_s), model in zip(source_arrays(sources), method.levels):
        stack.add(X_s.numpy(), -y_s.numpy(), _hyperparameters(model))
    stack.add(X.numpy(), -y.numpy(), _hyperparameters(acq.model))
    return stack


@pytest.mark.parametrize("pair_name", PAIRS)
@pytest.mark.parametrize("method_name", ["mhgp", "shgp"])
def test_prediction_is_the_closed_form_hierarchy(method_name, pair_name):
    """Predictive mean and variance at test points equal the closed-form stack:
    MHGP's mean is the sum of the levels' means and its variance the target
    level's alone; SHGP's are the sequentially propagated posterior, which is
    measurably different (the sources' posterior covariance reaches the target)."""
    method, acq, sources, X, y, x_test = _run(method_name, pair_name)
    propagate = method_name == "shgp"
    stack = _reference(method, acq, sources, X, y, propagate)
    with torch.no_grad():  # a batch of one run: inputs `b x 1 x 1 x d`
        mean, var = acq.mean_and_variance(x_test.unsqueeze(-2).unsqueeze(-2))
    mean, var = mean.reshape(-1).numpy(), var.reshape(-1).numpy()
    x = x_test.numpy()
    np.testing.assert_allclose(mean, stack.mean(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(var, np.diag(stack.cov(x, x)), rtol=1e-5, atol=1e-8)
    if propagate:
        other = _reference(method, acq, sources, X, y, propagate=False)
        assert not np.allclose(var, np.diag(other.cov(x, x)), rtol=1e-3)


def test_mhgp_residuals_are_formed_on_raw_values():
    """A source that is the target plus 10 leaves the target level a constant
    residual of -10: the stack's mean carries the offset, so the prediction at
    the target points is the target's values (not a re-standardized shape)."""
    pair = get_pair("forrester:a=1.0,b=0.0,c=0.0")  # the source equals the target
    method = make_method("mhgp")
    (data,) = pair.source_data(0, n_source=16)
    shifted = type(data)(data.X, data.Y + 10.0, feature_names=["x0"], outcome_names=["s"])
    method.start([shifted], 1, seed=0)
    X = sobol(6, 1, 7)
    y = pair.target(X)
    acq = method.acquisition(X, y)
    with torch.no_grad():
        stack = method.stack_mean(X.unsqueeze(-2)).squeeze(-1)
        mean, _ = acq.mean_and_variance(X.unsqueeze(-2).unsqueeze(-2))
    assert torch.allclose(stack, -(y + 10.0), atol=0.05 * float(y.std()))
    assert torch.allclose(mean.reshape(-1), -y, atol=0.01 * float(y.std()))


def test_list_methods_names_both_hierarchies_with_their_papers(capsys):
    import io

    import pandas as pd

    from bo_transfer.cli import main

    assert main(["list", "methods", "--format", "csv"]) == 0
    rows = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("name")
    assert "Golovin" in rows.loc["mhgp", "citation"] and "MHGP" in rows.loc["mhgp", "citation"]
    assert "Tighineanu" in rows.loc["shgp", "citation"] and "SHGP" in rows.loc["shgp", "citation"]
    assert "stacked-gp" not in rows.index
