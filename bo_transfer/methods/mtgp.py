"""Multi-task GP (ICM): sources and target share one GP with a learned task kernel."""

from __future__ import annotations

import math

import torch
from botorch.acquisition import LogExpectedImprovement
from botorch.models import MultiTaskGP
from botorch.models.utils.gpytorch_modules import MIN_INFERRED_NOISE_LEVEL
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import IndexKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.priors import LKJCovariancePrior, LogNormalPrior, SmoothedBoxPrior
from torch import Tensor

from bo_transfer.methods.base import Method, register_method, source_arrays, standardize

TASK_KERNELS = ("free", "botorch")
NOISE_MODELS = ("shared", "per-task")

#: L-BFGS-B iterations per fit in the fast configuration. Near-perfect
#: (anti-)correlations make the task covariance nearly singular and a fit from
#: scratch crawls for hundreds of iterations whose last ones barely move the
#: correlation (5 sources x 32 points: 150 iterations, 2.5 s per fit here);
#: warm-started fits usually stop well before the cap.
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

    The default is a fast configuration (see ``benchmarks/perf/RESULTS.md``):
    one noise level shared by all tasks, hyperparameters warm-started from the
    previous iteration's fit, at most ``max_iter`` L-BFGS-B iterations, and no
    prior on the task covariance. BoTorch 0.18's own default configuration is
    the named variant ``mtgp-botorch``.

    Options:
        task_kernel: ``"free"`` (default), an unconstrained full-rank
            ``IndexKernel``, so the task covariance can learn a *negative*
            correlation and use an anti-correlated source upside down;
            ``"botorch"``, BoTorch's ``PositiveIndexKernel`` with a Beta prior,
            which can only learn non-negative correlations and switches an
            anti-correlated source off.
        task_prior: with the free kernel, an LKJ prior (eta 1.5, BoTorch's
            ``KroneckerMultiTaskGP`` default) that shrinks task correlations
            towards zero, either sign alike. The botorch kernel always has its
            Beta prior.
        noise: ``"shared"`` (default), one Gaussian noise level for all tasks,
            or ``"per-task"``, one per task (BoTorch's default).
        warm_start: start each fit from the previous iteration's hyperparameters.
        max_iter: L-BFGS-B iteration cap per fit (0: SciPy's default, 15,000).

    Records ``task_correlation`` (target with each source) per iteration.

    No batched step (a sweep's ``batch_seeds`` runs it one seed at a time):
    BoTorch 0.18's ``MultiTaskGP`` refuses training inputs with a batch
    dimension ("batch mode MTGPs are blocked upstream in GPyTorch"), so S
    seeds cannot share one model the way the single-task methods do.
    """

    def __init__(
        self,
        task_kernel: str = "free",
        task_prior: bool = False,
        noise: str = "shared",
        warm_start: bool = True,
        max_iter: int = MAX_FIT_ITERATIONS,
    ) -> None:
        super().__init__()
        if task_kernel not in TASK_KERNELS:
            raise ValueError(
                f"task_kernel must be one of {', '.join(TASK_KERNELS)}, got {task_kernel!r}"
            )
        if noise not in NOISE_MODELS:
            raise ValueError(f"noise must be one of {', '.join(NOISE_MODELS)}, got {noise!r}")
        if not isinstance(task_prior, bool) or not isinstance(warm_start, bool):
            raise ValueError("task_prior and warm_start must be true or false")
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
            raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")
        self.task_kernel = task_kernel
        self.task_prior = task_prior
        self.noise = noise
        self.warm_start = warm_start
        self.max_iter = max_iter

    def config(self) -> dict:
        return {
            "task_kernel": self.task_kernel,
            "task_prior": self.task_prior or self.task_kernel == "botorch",
            "noise": self.noise,
            "warm_start": self.warm_start,
            "max_iter": self.max_iter,
        }

    def training_data(self, X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Inputs with the task index as last column (sources ``0..K-1``, the
        target ``K``) and values negated (BoTorch maximises), standardized per task."""
        data = [*source_arrays(self.sources), (X, y)]
        train_X = torch.cat(
            [
                torch.cat([Xk, torch.full((len(Xk), 1), float(k), dtype=Xk.dtype)], -1)
                for k, (Xk, _) in enumerate(data)
            ]
        )
        train_Y = torch.cat([-standardize(yk) for _, yk in data]).unsqueeze(-1)
        return train_X, train_Y

    def build(self, train_X: Tensor, train_Y: Tensor) -> MultiTaskGP:
        n_tasks = len(self.sources) + 1
        likelihood = None  # per-task noise: BoTorch's HadamardGaussianLikelihood
        if self.noise == "shared":
            likelihood = GaussianLikelihood(
                noise_prior=LogNormalPrior(-4.0, 1.0),
                noise_constraint=GreaterThan(MIN_INFERRED_NOISE_LEVEL),
            )
        model = MultiTaskGP(
            train_X,
            train_Y,
            task_feature=-1,
            output_tasks=[n_tasks - 1],
            outcome_transform=None,
            likelihood=likelihood,
        )
        if self.task_kernel == "free":
            prior = None
            if self.task_prior:
                prior = LKJCovariancePrior(
                    n_tasks,
                    eta=torch.tensor(1.5, dtype=train_X.dtype),
                    sd_prior=SmoothedBoxPrior(math.exp(-6), math.exp(1.25), 0.05),
                )
            # Full rank; B = I + diag(v) at the start: uncorrelated tasks.
            task = IndexKernel(num_tasks=n_tasks, rank=n_tasks, prior=prior, active_dims=[self.dim])
            task.covar_factor.data = torch.eye(n_tasks)
            model.covar_module = model.covar_module.kernels[0] * task.to(train_X)
        return model

    def fit(self, X: Tensor, y: Tensor, seed: int) -> MultiTaskGP:
        """The fitted multi-task GP on the sources and ``(X, y)``."""
        # Task kernels initialise from the global generator and a failed fit
        # restarts from random draws: seed both so a proposal depends on ``seed`` only.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self.build(*self.training_data(X, y))
            return self.fit_model(
                model,
                slot="mtgp" if self.warm_start else None,
                optimizer_options={"maxiter": self.max_iter} if self.max_iter else None,
            )

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


@register_method(
    "mtgp-botorch",
    summary="mtgp in BoTorch 0.18's default MultiTaskGP configuration (the slow reference)",
    citation=MTGP.citation,
    bib_key=MTGP.bib_key,
)
class MTGPBoTorch(MTGP):
    """``MultiTaskGP`` exactly as BoTorch 0.18 builds it by default: a
    ``PositiveIndexKernel`` with a Beta(2.5, 1.5) prior on the task
    correlations, one noise level per task (``HadamardGaussianLikelihood``), a
    constant mean per task, a ``Standardize`` outcome transform, each fit from
    scratch with ``fit_gpytorch_mll``'s defaults. Kept as the reference that
    ``mtgp``'s fast configuration is measured against; it cannot learn a
    negative task correlation. No options.
    """

    def __init__(self) -> None:
        super().__init__(task_kernel="botorch", noise="per-task", warm_start=False, max_iter=0)

    def config(self) -> dict:
        return {
            "configuration": "botorch-default",
            "task_kernel": "PositiveIndexKernel, Beta(2.5, 1.5) prior",
            "noise": "per-task",
            "mean": "constant per task",
            "outcome_transform": "Standardize",
            "warm_start": False,
            "max_iter": 0,
        }

    def build(self, train_X: Tensor, train_Y: Tensor) -> MultiTaskGP:
        return MultiTaskGP(train_X, train_Y, task_feature=-1, output_tasks=[len(self.sources)])
