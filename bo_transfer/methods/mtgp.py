"""Multi-task GP (ICM): sources and target share one GP with a learned task kernel.

``mtgp`` runs on :class:`TargetTaskGP`, a GPyTorch model of our own that
computes what BoTorch 0.18's ``MultiTaskGP`` computes for the same data and
hyperparameters (checked to 1e-10 in ``tests/test_methods_batched.py``) but
also has a batch shape: S seeds of a sweep share one model and one batched
L-BFGS-B fit (:mod:`bo_transfer.methods.batch`). BoTorch's ``MultiTaskGP``
refuses batched training inputs ("batch mode MTGPs are blocked upstream in
GPyTorch").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from botorch import settings as botorch_settings
from botorch.acquisition import LogExpectedImprovement
from botorch.models import MultiTaskGP, SingleTaskGP
from botorch.models.utils.gpytorch_modules import (
    MIN_INFERRED_NOISE_LEVEL,
    get_covar_module_with_dim_scaled_prior,
)
from botorch.posteriors import Posterior
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import IndexKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import Mean
from gpytorch.priors import LKJCovariancePrior, LogNormalPrior, SmoothedBoxPrior
from torch import Tensor

from bo_transfer.methods.base import (
    BatchedMethod,
    register_method,
    source_arrays,
    standardize,
)
from bo_transfer.methods.batch import BatchFallback, fit_batch, maximize_batch

TASK_KERNELS = ("free", "botorch")
NOISE_MODELS = ("shared", "per-task")

#: L-BFGS-B iterations per fit in the fast configuration. Near-perfect
#: (anti-)correlations make the task covariance nearly singular and a fit from
#: scratch crawls for hundreds of iterations whose last ones barely move the
#: correlation (5 sources x 32 points: 150 iterations, 2.5 s per fit here);
#: warm-started fits usually stop well before the cap.
MAX_FIT_ITERATIONS = 150


def _take(values: Tensor, index: Tensor) -> Tensor:
    """``values[..., index]`` with ``values`` (`batch x m`) broadcast against
    ``index`` (`... x k`, batch dims last): a gather, exact, and its gradient a
    scatter-add that sums each batch element's terms in the same order at any
    batch position (a one-hot matrix product would not: batched BLAS rounds
    differently by element, and a seed's fit would depend on its block)."""
    if values.shape[:-1] != index.shape[:-1]:
        batch = torch.broadcast_shapes(values.shape[:-1], index.shape[:-1])
        values = values.expand(*batch, values.shape[-1])
        index = index.expand(*batch, index.shape[-1])
    return values.gather(-1, index)


class TaskCovariance(IndexKernel):
    """GPyTorch's ``IndexKernel`` (``B = F F^T + diag(v)``, the same
    parameters and prior) whose covariance between task indices is gathered
    from ``B`` as a dense tensor rather than an ``InterpolatedLinearOperator``:
    the same numbers, for any batch shape, at a fraction of the overhead per
    marginal-likelihood evaluation."""

    def forward(self, i1: Tensor, i2: Tensor, diag: bool = False, **params) -> Tensor:
        B = self._eval_covar_matrix()
        n_tasks = B.shape[-1]
        t1, t2 = i1[..., 0].long(), i2[..., 0].long()  # ... x n1, ... x n2
        if diag:
            return _take(B.diagonal(dim1=-2, dim2=-1), t1)
        index = (t1.unsqueeze(-1) * n_tasks + t2.unsqueeze(-2)).flatten(-2)
        return _take(B.flatten(-2), index).unflatten(-1, (t1.shape[-1], t2.shape[-1]))


class TaskMean(Mean):
    """A learned constant per task (``MultiTaskGP``'s ``MultitaskMean`` of
    ``ConstantMean``s, initialised at 0), for inputs whose last column is the
    task index; parameter ``constant`` of shape `batch x T`."""

    def __init__(self, n_tasks: int, batch_shape: torch.Size) -> None:
        super().__init__()
        self.register_parameter("constant", torch.nn.Parameter(torch.zeros(*batch_shape, n_tasks)))

    def forward(self, x: Tensor) -> Tensor:
        return _take(self.constant, x[..., -1].long())


class TargetTaskGP(SingleTaskGP):
    """An ICM multi-task GP (Bonilla et al. 2007) with batch shape ``S``:
    inputs are `S x N x (d + 1)`, the last column the task index ``0..T-1``;
    the prior is a constant mean per task and ``k(x, x') B[t, t']``, BoTorch's
    RBF kernel with its dimension-scaled lengthscale prior times a free-form
    task covariance ``B`` (:class:`TaskCovariance`, full rank); one Gaussian
    noise level (LogNormal(-4, 1) prior) per batch element. :meth:`posterior`
    takes `... x d` inputs and answers for the target task ``T - 1``, as
    ``MultiTaskGP(..., output_tasks=[T - 1])`` does.

    Args:
        train_X: `S x N x (d + 1)` inputs, task index last.
        train_Y: `S x N x 1` values (standardized per task by the caller).
        n_tasks: ``T``.
        task_prior: an optional prior on ``B`` (batch-aware, e.g. LKJ).
    """

    def __init__(self, train_X: Tensor, train_Y: Tensor, n_tasks: int, task_prior=None) -> None:
        batch = train_X.shape[:-2]
        d = train_X.shape[-1] - 1
        data = get_covar_module_with_dim_scaled_prior(
            ard_num_dims=d, batch_shape=batch, active_dims=list(range(d))
        )
        task = TaskCovariance(
            num_tasks=n_tasks, rank=n_tasks, batch_shape=batch, prior=task_prior, active_dims=[d]
        )
        likelihood = GaussianLikelihood(
            batch_shape=batch,
            noise_prior=LogNormalPrior(-4.0, 1.0),
            noise_constraint=GreaterThan(MIN_INFERRED_NOISE_LEVEL),
        )
        # The task column is not a unit-cube feature: BoTorch's scaling check would warn.
        with botorch_settings.validate_input_scaling(False):
            super().__init__(
                train_X,
                train_Y,
                likelihood=likelihood,
                covar_module=data * task,
                mean_module=TaskMean(n_tasks, batch),
                outcome_transform=None,
            )
        self.to(train_X)
        self.target_task = n_tasks - 1

    @property
    def task_covariance(self) -> Tensor:
        """``B``, `S x T x T`."""
        return self.covar_module.kernels[1]._eval_covar_matrix()

    def posterior(self, X: Tensor, *args, **kwargs) -> Posterior:
        """The target task's posterior at `... x q x d` inputs."""
        task = X.new_full((*X.shape[:-1], 1), float(self.target_task))
        return super().posterior(torch.cat([X, task], -1), *args, **kwargs)


def initial_task_variances(n_tasks: int, seed: int) -> Tensor:
    """The raw diagonal ``v`` of the free task covariance that ``mtgp`` has
    always started from: the draws BoTorch's ``MultiTaskGP`` construction
    makes from the generator seeded by ``seed`` before the free
    ``IndexKernel`` replaces its task kernel (``PositiveIndexKernel``: randn
    ``T``, rand ``T x T``; ``IndexKernel``: randn ``T x T``, then randn ``T``,
    this), so a run starts where it did before the model became batched."""
    generator = torch.Generator().manual_seed(seed)
    torch.randn(n_tasks, generator=generator)
    torch.rand(n_tasks, n_tasks, generator=generator)
    torch.randn(n_tasks, n_tasks, generator=generator)
    return torch.randn(n_tasks, generator=generator).double()


@register_method(
    "mtgp",
    summary="Multi-task GP (ICM kernel) on sources and target, target as output task, LogEI",
    citation="Swersky, Snoek, Adams. Multi-Task Bayesian Optimization. NeurIPS 2013; "
    "Bonilla, Chai, Williams. Multi-task Gaussian Process Prediction. NeurIPS 2007",
    bib_key="swersky2013multi,bonilla2007multitask",
)
class MTGP(BatchedMethod):
    """A multi-task GP on every source and the target (each task's values
    standardized on its own), the target as the only output task, with LogEI.

    The default is a fast configuration (see ``benchmarks/perf/RESULTS.md``):
    one noise level shared by all tasks, hyperparameters warm-started from the
    previous iteration's fit, at most ``max_iter`` L-BFGS-B iterations, and no
    prior on the task covariance. BoTorch 0.18's own default configuration is
    the named variant ``mtgp-botorch``.

    With the free task kernel and shared noise (with or without the task
    prior) the model is :class:`TargetTaskGP`, which has a batched step: S
    seeds share one model and one batched fit, each seed's numbers those of
    its run alone. With ``task_kernel="botorch"`` or ``noise="per-task"`` the
    model is BoTorch's ``MultiTaskGP`` (no batch mode), and a seed block takes
    each seed's step in turn.

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

    @property
    def batched_model(self) -> bool:
        """Whether the configuration is :class:`TargetTaskGP`'s (free task
        kernel, shared noise)."""
        return self.task_kernel == "free" and self.noise == "shared"

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

    def _task_prior(self, n_tasks: int) -> LKJCovariancePrior | None:
        if not self.task_prior:
            return None
        return LKJCovariancePrior(
            n_tasks,
            eta=torch.tensor(1.5, dtype=torch.float64),
            sd_prior=SmoothedBoxPrior(math.exp(-6), math.exp(1.25), 0.05),
        )

    def build_batch(self, train_X: Tensor, train_Y: Tensor, seeds: Sequence[int]) -> TargetTaskGP:
        """:class:`TargetTaskGP` on `S x N x (d + 1)` inputs, each element at
        ``mtgp``'s start for its seed: uncorrelated tasks, ``F = I`` and ``v``
        from :func:`initial_task_variances`."""
        n_tasks = len(self.sources) + 1
        model = TargetTaskGP(train_X, train_Y, n_tasks, self._task_prior(n_tasks))
        task = model.covar_module.kernels[1]
        with torch.no_grad():
            task.covar_factor.copy_(torch.eye(n_tasks, dtype=train_X.dtype))
            task.raw_var.copy_(
                torch.stack([initial_task_variances(n_tasks, seed) for seed in seeds]).to(train_X)
            )
        return model

    def build(self, train_X: Tensor, train_Y: Tensor) -> MultiTaskGP:
        """BoTorch's ``MultiTaskGP`` in this configuration (the model of the
        configurations :class:`TargetTaskGP` does not cover)."""
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
            # Full rank; B = I + diag(v) at the start: uncorrelated tasks.
            task = IndexKernel(
                num_tasks=n_tasks,
                rank=n_tasks,
                prior=self._task_prior(n_tasks),
                active_dims=[self.dim],
            )
            task.covar_factor.data = torch.eye(n_tasks)
            model.covar_module = model.covar_module.kernels[0] * task.to(train_X)
        return model

    @classmethod
    def fit_batch(
        cls, methods: Sequence[MTGP], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> TargetTaskGP:
        """The fitted :class:`TargetTaskGP` of S runs on their sources and
        target data ``X`` (`S x n x d`), ``y`` (`S x n`).

        Raises:
            BatchFallback: the runs' source data differ in size.
        """
        data = [m.training_data(X_s, y_s) for m, X_s, y_s in zip(methods, X, y)]
        if len({tuple(train_X.shape) for train_X, _ in data}) > 1:
            raise BatchFallback("the runs' source data differ in size")
        lead = methods[0]
        model = lead.build_batch(
            torch.stack([d[0] for d in data]).to(X), torch.stack([d[1] for d in data]).to(X), seeds
        )
        return fit_batch(
            methods,
            model,
            slot="mtgp" if lead.warm_start else None,
            optimizer_options={"maxiter": lead.max_iter} if lead.max_iter else None,
        )

    def fit(self, X: Tensor, y: Tensor, seed: int) -> TargetTaskGP | MultiTaskGP:
        """The fitted multi-task GP on the sources and ``(X, y)``: a
        :class:`TargetTaskGP` of batch shape 1, or BoTorch's ``MultiTaskGP``."""
        if self.batched_model:
            return self.fit_batch([self], X.unsqueeze(0), y.unsqueeze(0), [seed])
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

    @staticmethod
    def task_correlations(B: Tensor) -> Tensor:
        """Correlation of the target task (last) with each source task in task
        covariance matrices ``B`` (`... x T x T`), `... x (T - 1)`."""
        d = B.diagonal(dim1=-2, dim2=-1).sqrt()
        return B[..., -1, :-1] / (d[..., -1:] * d[..., :-1])

    def task_correlation(self, model: TargetTaskGP | MultiTaskGP) -> list[float]:
        """Correlation of the target task with each source task in the learned
        task covariance matrix (of a model of this run alone)."""
        with torch.no_grad():
            if isinstance(model, TargetTaskGP):
                B = model.task_covariance[0]
            else:
                B = model.covar_module.kernels[1].covar_matrix.to_dense()
        return self.task_correlations(B).tolist()

    @classmethod
    def propose_batch(
        cls, methods: Sequence[MTGP], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        if not methods[0].batched_model:
            return torch.cat(
                [m.propose_alone(X_s, y_s, seed) for m, X_s, y_s, seed in zip(methods, X, y, seeds)]
            )
        model = cls.fit_batch(methods, X, y, seeds)
        with torch.no_grad():
            correlations = cls.task_correlations(model.task_covariance)
        for method, rho in zip(methods, correlations):
            method.record("task_correlation", rho.tolist())
        best_f = torch.stack([(-standardize(y_s)).max() for y_s in y]).unsqueeze(-1)
        return maximize_batch(methods, LogExpectedImprovement(model, best_f=best_f), seeds)

    def propose_alone(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        """The step on BoTorch's ``MultiTaskGP`` (`1 x d`), for the
        configurations without a batched model."""
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
    negative task correlation. No options; no batched step (a seed block runs
    it one seed at a time).
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

    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        # Its own step, not a batched one: BoTorch's MultiTaskGP has no batch mode.
        return self.propose_alone(X, y, seed)
