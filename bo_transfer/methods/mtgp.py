"""Multi-task GP (ICM): sources and target share one GP with a learned task kernel."""

from __future__ import annotations

import time

import torch
from botorch.acquisition import LogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import MultiTaskGP
from botorch.models.utils.gpytorch_modules import MIN_INFERRED_NOISE_LEVEL
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import IndexKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from torch import Tensor

from bo_transfer.methods.base import Method, register_method, source_arrays, standardize

TASK_KERNELS = ("free", "botorch")

#: L-BFGS-B iterations per fit. Near-perfect (anti-)correlations make the task
#: covariance nearly singular and the fit crawls for a thousand iterations whose
#: last ones barely move the correlation; a fast default fit is issue 7's study.
MAX_FIT_ITERATIONS = 150


@register_method(
    "mtgp",
    summary="Multi-task GP (ICM kernel) on sources and target, target as output task, LogEI",
    citation="Swersky, Snoek, Adams. Multi-Task Bayesian Optimization. NeurIPS 2013; "
    "Bonilla, Chai, Williams. Multi-task Gaussian Process Prediction. NeurIPS 2007",
    bib_key="swersky2013multi,bonilla2007multitask",
)
class MTGP(Method):
    """BoTorch's `MultiTaskGP` on every source and the target (each task's values
    standardized on its own), the target as the only output task, with LogEI.

    ``task_kernel="free"`` (default): an unconstrained full-rank ``IndexKernel``
    without prior, so the task covariance can learn a *negative* correlation
    and use an anti-correlated source upside down. ``task_kernel="botorch"``:
    BoTorch 0.18's default, a ``PositiveIndexKernel`` with a Beta prior, which
    can only learn non-negative correlations and switches an anti-correlated
    source off. Records ``task_correlation`` (target with each source) per
    iteration.
    """

    def __init__(self, task_kernel: str = "free") -> None:
        super().__init__()
        if task_kernel not in TASK_KERNELS:
            raise ValueError(
                f"task_kernel must be one of {', '.join(TASK_KERNELS)}, got {task_kernel!r}"
            )
        self.task_kernel = task_kernel

    def config(self) -> dict:
        return {"task_kernel": self.task_kernel}

    def fit(self, X: Tensor, y: Tensor, seed: int) -> MultiTaskGP:
        """The fitted multi-task GP; tasks ``0..K-1`` are the sources, ``K`` the
        target. Values are negated (BoTorch maximises) and standardized per task."""
        t0 = time.perf_counter()
        data = [*source_arrays(self.sources), (X, y)]
        train_X = torch.cat(
            [
                torch.cat([Xk, torch.full((len(Xk), 1), float(k), dtype=Xk.dtype)], -1)
                for k, (Xk, _) in enumerate(data)
            ]
        )
        train_Y = torch.cat([-standardize(yk) for _, yk in data]).unsqueeze(-1)
        # Task kernels initialise from the global generator and a failed fit
        # restarts from random draws: seed both so a proposal depends on ``seed`` only.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = MultiTaskGP(
                train_X,
                train_Y,
                task_feature=-1,
                output_tasks=[len(data) - 1],
                outcome_transform=None,
                likelihood=GaussianLikelihood(
                    noise_prior=LogNormalPrior(-4.0, 1.0),
                    noise_constraint=GreaterThan(MIN_INFERRED_NOISE_LEVEL),
                ),
            )
            if self.task_kernel == "free":
                # Full rank, no prior; B = I + diag(v) at the start: uncorrelated tasks.
                task = IndexKernel(num_tasks=len(data), rank=len(data), active_dims=[self.dim])
                task.covar_factor.data = torch.eye(len(data))
                model.covar_module = model.covar_module.kernels[0] * task.to(train_X)
            fit_gpytorch_mll(
                ExactMarginalLogLikelihood(model.likelihood, model),
                optimizer_kwargs={"options": {"maxiter": MAX_FIT_ITERATIONS}},
            )
        self.timings["fit_s"] += time.perf_counter() - t0
        return model

    def task_correlation(self, model: MultiTaskGP) -> list[float]:
        """Correlation of the target task with each source task in the learned
        task covariance matrix."""
        with torch.no_grad():
            B = model.covar_module.kernels[1].covar_matrix.to_dense()
        d = B.diagonal().sqrt()
        return (B[-1, :-1] / (d[-1] * d[:-1])).tolist()

    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        model = self.fit(X, y, seed)
        self.record("task_correlation", self.task_correlation(model))
        return self.maximize(LogExpectedImprovement(model, best_f=(-standardize(y)).max()), seed)
