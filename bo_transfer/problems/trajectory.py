"""Source data as an earlier campaign leaves it: the path of a cold GP-EI run.

Sobol source data covers the space evenly; real source data does not: an
earlier optimization campaign clusters its points around the source's good
regions. :func:`gp_ei_trajectory` replays such a campaign on a source problem
with BoTorch directly (a GP with LogEI, Ament et al., *Unexpected Improvements
to Expected Improvement for Bayesian Optimization*, NeurIPS 2023), without
depending on :mod:`bo_transfer.methods`, so the problems package stays first in
the data flow.
"""

from __future__ import annotations

import warnings

import torch
from botorch.acquisition import LogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Standardize
from botorch.optim import optimize_acqf
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from bo_transfer.problems.base import DTYPE, Problem, sobol
from bo_transfer.seeding import derive_seed

#: Acquisition optimisation of the replayed campaign: lighter than a method's
#: (its points only need to look like a BO run's, not be the best possible).
RESTARTS, RAW_SAMPLES = 4, 128


def gp_ei_trajectory(
    problem: Problem, n: int, noise_std: float, seed: int
) -> tuple[Tensor, Tensor]:
    """The first ``n`` points a cold GP-LogEI run on ``problem`` evaluates.

    Starts from ``max(2, min(n, 2 * dim))`` Sobol points, then adds the LogEI
    maximiser one point at a time. Observations carry Gaussian noise of standard
    deviation ``noise_std`` (the run sees the noisy values, as a real one would).
    Every random draw derives from ``seed``, inside a forked torch RNG state.

    Returns:
        `n x dim` inputs and the `n x 1` observed values.
    """
    dim = problem.dim
    n_init = min(n, max(2, 2 * dim))
    gen = torch.Generator().manual_seed(derive_seed(seed, "noise"))

    def observe(X: Tensor) -> Tensor:
        with torch.no_grad():
            y = problem(X)
        return y + noise_std * torch.randn(y.shape, generator=gen, dtype=DTYPE)

    X = sobol(n_init, dim, derive_seed(seed, "init"))
    y = observe(X)
    bounds = torch.stack([torch.zeros(dim, dtype=DTYPE), torch.ones(dim, dtype=DTYPE)])
    for i in range(n_init, n):
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.manual_seed(derive_seed(seed, i))
            model = SingleTaskGP(X, -y.unsqueeze(-1), outcome_transform=Standardize(1))
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            acq = LogExpectedImprovement(model, best_f=float((-y).max()))
            x, _ = optimize_acqf(acq, bounds, q=1, num_restarts=RESTARTS, raw_samples=RAW_SAMPLES)
        x = x.detach().clamp(0, 1)
        X, y = torch.cat([X, x]), torch.cat([y, observe(x)])
    return X, y.unsqueeze(-1)
