"""RGPE's weights straight from the paper's definition, written independently of
``bo_transfer.methods.rgpe`` (a test aid, also used by ``benchmarks/rgpe_weights.py``).

Feurer, Letham and Bakshy (ICML 2018 AutoML workshop; arXiv:1802.02219v1):

- a source model's loss on one posterior sample ``f`` (joint at the target
  points) is ``sum_j sum_k 1[(f(x_j) < f(x_k)) xor (y_j < y_k)]``;
- the target model's loss uses the leave-one-out models ``f^{-j}`` (the target
  GP's hyperparameters, conditioned on all target points but ``j``): one joint
  sample of each ``f^{-j}`` at all target points, and
  ``sum_j sum_k 1[(f^{-j}(x_j) < f^{-j}(x_k)) xor (y_j < y_k)]``;
- a source whose median loss exceeds the 95th percentile of the target's loss
  samples is dropped; each sample's lowest loss wins it (a tie with the target
  goes to the target, a tie among sources is shared); a weight is the fraction
  of samples won.

Everything here is numpy with explicit loops over held-out points, pairs and
samples; GPs are computed in closed form from the fitted hyperparameters of
BoTorch ``SingleTaskGP`` models with an RBF kernel (Rasmussen and Williams
2006, eq. 2.23-2.24). Random draws come from a torch generator in the order
the method documents, so both see the same standard normal vectors.
"""

from __future__ import annotations

import numpy as np
import torch
from gpytorch.kernels import RBFKernel


def _hyperparameters(model) -> dict:
    """Lengthscales, constant mean and noise of a fitted SingleTaskGP (RBF kernel)."""
    assert type(model.covar_module) is RBFKernel, "the reference handles the RBF kernel"
    return {
        "lengthscale": model.covar_module.lengthscale.detach().numpy().ravel(),
        "mean": float(model.mean_module.constant.detach()),
        "noise": float(model.likelihood.noise.detach().squeeze()),
    }


def rbf(A: np.ndarray, B: np.ndarray, lengthscale: np.ndarray) -> np.ndarray:
    """``exp(-|a - b|^2 / 2)`` on inputs scaled by the lengthscales."""
    K = np.empty((len(A), len(B)))
    for i, a in enumerate(A):
        for k, b in enumerate(B):
            K[i, k] = np.exp(-0.5 * np.sum(((a - b) / lengthscale) ** 2))
    return K


def gp_posterior(
    X_train: np.ndarray, t_train: np.ndarray, X_test: np.ndarray, hp: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Latent posterior mean and covariance at ``X_test`` of a GP with constant
    mean, RBF kernel and Gaussian noise, conditioned on ``(X_train, t_train)``."""
    ell, c, noise = hp["lengthscale"], hp["mean"], hp["noise"]
    A = rbf(X_train, X_train, ell) + noise * np.eye(len(X_train))
    k = rbf(X_test, X_train, ell)
    mean = c + k @ np.linalg.solve(A, t_train - c)
    cov = rbf(X_test, X_test, ell) - k @ np.linalg.solve(A, k.T)
    return mean, cov


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """Cholesky factor, with the smallest jitter (1e-10 upwards) that makes it exist."""
    jitter = 0.0
    while True:
        try:
            return np.linalg.cholesky(cov + jitter * np.eye(len(cov)))
        except np.linalg.LinAlgError:
            jitter = 1e-10 if jitter == 0 else 10 * jitter


def pair_loss(pred_j: float, pred_k: float, y_j: float, y_k: float) -> int:
    """1 if the prediction orders ``(j, k)`` differently from the observations."""
    return int((pred_j < pred_k) != (y_j < y_k))


def source_losses(model, X: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """`S` ranking losses of a source GP, one per row of the `S x n` normals ``z``."""
    hp = _hyperparameters(model)
    mean, cov = gp_posterior(model.train_inputs[0].numpy(), model.train_targets.numpy(), X, hp)
    L = _cholesky(cov)
    losses = np.zeros(len(z), dtype=int)
    for s in range(len(z)):
        f = mean + L @ z[s]
        for j in range(len(y)):
            for k in range(len(y)):
                losses[s] += pair_loss(f[j], f[k], y[j], y[k])
    return losses


def target_losses(model, z: np.ndarray) -> np.ndarray:
    """`S` leave-one-out ranking losses of the target GP (its training data and
    hyperparameters), ``z``: `S x n x n` normals, ``z[s, j]`` for ``f^{-j}``."""
    hp = _hyperparameters(model)
    X, y = model.train_inputs[0].numpy(), model.train_targets.numpy()
    n = len(y)
    losses = np.zeros(len(z), dtype=int)
    for j in range(n):
        others = [k for k in range(n) if k != j]
        mean, cov = gp_posterior(X[others], y[others], X, hp)  # f^{-j} at every x_k
        L = _cholesky(cov)
        for s in range(len(z)):
            f = mean + L @ z[s, j]
            for k in range(n):
                losses[s] += pair_loss(f[j], f[k], y[j], y[k])
    return losses


def weights_from_losses(losses: np.ndarray) -> np.ndarray:
    """`K + 1` weights from `(K + 1) x S` losses (target last), with the dilution
    guard and the paper's tie rule."""
    losses = losses.astype(float).copy()
    threshold = np.percentile(losses[-1], 95)
    for i in range(len(losses) - 1):
        if np.median(losses[i]) > threshold:
            losses[i] = np.inf
    weights = np.zeros(len(losses))
    for s in range(losses.shape[1]):
        column = losses[:, s]
        winners = [i for i in range(len(column)) if column[i] == column.min()]
        if len(column) - 1 in winners:
            weights[-1] += 1.0
        else:
            for i in winners:
                weights[i] += 1.0 / len(winners)
    return weights / losses.shape[1]


def paper_weights(sources: list, target, X, t, n_samples: int, seed: int) -> np.ndarray:
    """RGPE weights by the paper's definition.

    Args:
        sources: the fitted source GPs.
        target: the fitted target GP (its training data are the target data).
        X: `n x d` target inputs (tensor).
        t: `n` target values, larger is better (tensor).
        n_samples: samples per model.
        seed: seeds the torch generator the standard normals are drawn from,
            `n_samples x n` per source, then `n_samples x n x n`.
    """
    gen = torch.Generator().manual_seed(seed)
    n = len(X)
    X_np, t_np = X.numpy(), t.numpy()
    losses = []
    for model in sources:
        z = torch.randn(n_samples, n, generator=gen, dtype=torch.float64).numpy()
        losses.append(source_losses(model, X_np, t_np, z))
    z = torch.randn(n_samples, n, n, generator=gen, dtype=torch.float64).numpy()
    losses.append(target_losses(target, z))
    return weights_from_losses(np.stack(losses))
