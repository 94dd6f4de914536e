"""TAF-R against the definition of Wistuba et al. (2018) and its reference
implementation, computed here independently (explicit pair loops, scipy's EI)."""

import numpy as np
import pytest
import torch
from scipy.stats import norm

from bo_transfer.methods import make_method
from bo_transfer.methods.base import standardize
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import sobol

PAIR = "gp:rho=0.95;0.8;0.0"


def _started(n_target: int = 10, options: dict | None = None):
    pair = get_pair(PAIR)
    method = make_method("taf", options)
    method.start(pair.source_data(0), pair.dim, seed=0)
    X = sobol(n_target, pair.dim, 5)
    return method, X, pair.target(X)


def _predicted_minimisation(model, X) -> np.ndarray:
    """A source GP's posterior mean at ``X``, oriented for minimisation (the GPs
    model the negated standardized values)."""
    with torch.no_grad():
        return -model.posterior(X).mean.squeeze(-1).numpy()


def _reference_weight(pred: np.ndarray, y: np.ndarray, bandwidth: float) -> tuple[float, float]:
    """``(tau, weight)``: the fraction of pairs ``j < k`` with
    ``(y_j < y_k) xor (pred_j < pred_k)`` and its Epanechnikov weight."""
    discordant = total = 0
    for j in range(len(y)):
        for k in range(j + 1, len(y)):
            discordant += (y[j] < y[k]) != (pred[j] < pred[k])
            total += 1
    tau = discordant / total
    t = tau / bandwidth
    return tau, (0.75 * (1 - t**2) if t < 1 else 0.0)


def test_taf_default_bandwidth_is_the_reference_implementations():
    assert make_method("taf").config() == {"bandwidth": 0.1}


def test_taf_weights_are_the_ranking_kernel_of_each_source():
    """Weights equal the reference computation; at the default bandwidth a
    source with a fifth of its pairs discordant has weight 0 (at the old 0.5 it
    had 0.63)."""
    method, X, y = _started()
    weights = method.acquisition(X, y).weights[0].numpy()  # a batch of one run
    taus = []
    for model, w in zip(method._sources, weights):
        tau, expected = _reference_weight(_predicted_minimisation(model, X), y.numpy(), 0.1)
        taus.append(tau)
        assert w == pytest.approx(expected, abs=1e-12)
    assert any(0.1 < tau < 0.5 for tau in taus), taus  # the data exercise the bandwidth
    assert weights[np.argmax(taus)] == 0.0


def test_taf_acquisition_is_weighted_ei_plus_predicted_improvements():
    """``(0.75 EI(x) + sum_i w_i max(min_j m_i(x_j) - m_i(x), 0)) / (0.75 + sum_i w_i)``
    with EI of the target GP against the best observed (standardized) value."""
    method, X, y = _started(options={"bandwidth": 1.0})  # every source weighed in
    acqf = method.acquisition(X, y)
    y_min = standardize(y).min().item()
    x_test = sobol(6, X.shape[-1], 9)
    with torch.no_grad():
        got = acqf(x_test.unsqueeze(-2).unsqueeze(-2)).reshape(-1).numpy()  # a batch of one
        post = acqf.target_ei.model.posterior(x_test)
        mu = -post.mean.reshape(-1).numpy()  # minimisation
        sd = post.variance.reshape(-1).sqrt().numpy()
    u = (y_min - mu) / sd
    ei = sd * (u * norm.cdf(u) + norm.pdf(u))
    weights = acqf.weights[0].numpy()
    assert (weights > 0).all()
    total = 0.75 * ei
    for model, w in zip(method._sources, weights):
        best = _predicted_minimisation(model, X).min()
        total = total + w * np.maximum(best - _predicted_minimisation(model, x_test), 0.0)
    np.testing.assert_allclose(got, total / (0.75 + weights.sum()), rtol=1e-8, atol=1e-12)
