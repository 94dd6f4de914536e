"""Hierarchical GPs: sources and target as a sequence of GPs, each modelling what
the levels before it left unexplained.

Both methods order the sources as the pair lists them, fit one GP per source
once per run and the target GP every iteration, all on the *raw* values
(negated for BoTorch): level ``l`` models the residual ``v_l - m_{l-1}(X_l)``
of its values ``v_l`` from the posterior mean ``m_{l-1}`` of the levels below,
so the residuals keep the sources' relative scales. Each level standardizes its
own residuals (BoTorch's ``Standardize``), the within-model normalization of
Tighineanu et al.'s reference code (transfergpbo).

- ``mhgp`` (mean-only hierarchical GP; Golovin et al. 2017 "stack" GPs this
  way in Google Vizier, Tighineanu et al. 2022 call it MHGP): only posterior
  means pass up the stack; the prediction is the stack's mean plus the target
  GP's posterior, with the target GP's variance alone.
- ``shgp`` (sequential hierarchical GP; Tighineanu et al. 2022): each level's
  prior covariance is its own kernel *plus the posterior covariance of the
  levels below*, so the target's posterior variance includes the sources'
  uncertainty where the source data are sparse.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import _log_ei_helper
from botorch.models import SingleTaskGP
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from botorch.utils.transforms import t_batch_mode_transform
from gpytorch.kernels import Kernel, ScaleKernel
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

from bo_transfer.methods.base import BatchedMethod, register_method, source_arrays
from bo_transfer.methods.batch import fit_batch, gp_batch, maximize_batch, per_seed
from bo_transfer.methods.sources import SourcePosteriors

#: The smallest predictive variance LogEI works with (BoTorch's ``LogExpectedImprovement``).
MIN_VARIANCE = 1e-12


class StackLogEI(AcquisitionFunction):
    """LogEI of the prediction ``offset(x) + GP posterior at x``: mean
    ``offset(x) + mu(x)``, variance ``var(x)`` of the GP; for a batch of S
    runs (inputs `b x S x 1 x d`, values `b x S`).

    Args:
        model: the top GPs (batch shape ``S``), fitted to the residuals of the
            levels below.
        offset: the levels' posterior means, `... x S x q x d` to `... x S x q`.
        best_f: `S` incumbents, in the prediction's units.
    """

    def __init__(self, model: SingleTaskGP, offset: Callable[[Tensor], Tensor], best_f: Tensor):
        super().__init__(model=model)
        self.offset = offset
        self.register_buffer("best_f", torch.as_tensor(best_f))

    def mean_and_variance(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Predictive mean and variance at ``X`` (`... x q x d`), each `... x q`."""
        post = self.model.posterior(X)
        return post.mean.squeeze(-1) + self.offset(X), post.variance.squeeze(-1)

    @t_batch_mode_transform(expected_q=1)
    def forward(self, X: Tensor) -> Tensor:
        mean, var = self.mean_and_variance(X)
        sigma = var.squeeze(-1).clamp_min(MIN_VARIANCE).sqrt()
        return _log_ei_helper((mean.squeeze(-1) - self.best_f) / sigma) + sigma.log()


@register_method(
    "mhgp",
    summary="Mean-only hierarchical GP: each source, then the target, fits a GP to the residual "
    "of the stack's posterior mean (raw values); LogEI",
    citation="Golovin, Solnik, Moitra, Kochanski, Karro, Sculley. Google Vizier: A Service for "
    "Black-Box Optimization. KDD 2017 (GP stacking); Tighineanu, Skubch, Baireuther, Reiss, "
    "Berkenkamp, Vinogradska. Transfer Learning with Gaussian Processes for Bayesian "
    "Optimization. AISTATS 2022 (MHGP)",
    bib_key="golovin2017google,tighineanu2022transfer",
)
class MHGP(BatchedMethod):
    """Level 1 is a GP on the first source's values; level ``l`` a GP on source
    ``l``'s residuals from the sum of the posterior means of levels ``1..l-1``;
    the target GP, refitted every iteration, models the target's residuals from
    the sum of all source levels' means. The prediction's mean is the stack's
    mean plus the target GP's posterior mean, its variance the target GP's
    variance alone (as in Tighineanu et al.'s MHGP; Vizier additionally blends
    in the levels' variances). Each level is BoTorch's default
    ``SingleTaskGP`` on its own residuals; the acquisition is LogEI.

    Unlike ``prior-mean``, which averages sources standardized one by one, a
    later source corrects the stack below it, and a source on another scale or
    offset leaves a residual the target GP must model."""

    def __init__(self) -> None:
        super().__init__()
        #: The fitted source levels, bottom first.
        self.levels: list[SingleTaskGP] = []
        self._stack = SourcePosteriors([])

    def stack_mean(self, x: Tensor) -> Tensor:
        """Sum of the source levels' posterior means at ``x`` (`... x q x d`), `... x q`."""
        return self._stack.means(x).sum(-1)

    def start(self, sources, dim: int, seed: int) -> None:
        super().start(sources, dim, seed)
        self.levels = []
        for X_s, y_s in source_arrays(sources):
            with torch.no_grad():
                below = SourcePosteriors(self.levels).means(X_s).sum(-1)
            # fit_gp models -y: passing y + below fits the residual -y - below.
            self.levels.append(self.fit_gp(X_s, y_s + below, slot=None))
        self._stack = SourcePosteriors(self.levels)

    @classmethod
    def acquisition_batch(cls, methods: Sequence[MHGP], X: Tensor, y: Tensor) -> StackLogEI:
        """The fitted target levels' LogEI of S runs (target data ``X``, `S x n x d`,
        ``y``, `S x n`); inputs `b x S x 1 x d`."""
        stacks = [m._stack.on(X.device) for m in methods]
        means = [lambda x, stack=stack: stack.means(x).sum(-1) for stack in stacks]
        with torch.no_grad():
            below = per_seed(means, X)
        target = gp_batch(methods, X, y + below)
        return StackLogEI(target, lambda x: per_seed(means, x), best_f=(-y).max(-1).values)

    def acquisition(self, X: Tensor, y: Tensor) -> StackLogEI:
        """This run's LogEI for ``X`` (`n x d`), ``y`` (`n`): a batch of one."""
        return self.acquisition_batch([self], X.unsqueeze(0), y.unsqueeze(0))

    @classmethod
    def propose_batch(
        cls, methods: Sequence[MHGP], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        return maximize_batch(methods, cls.acquisition_batch(methods, X, y), seeds)


@dataclass(frozen=True)
class Level:
    """A fitted level of the hierarchy, in raw units (the values' units).

    Its GP has prior mean ``mean + (posterior mean of the levels below)`` and
    prior covariance ``outputscale * exp(-|x - x'|^2 / 2 lengthscale^2)`` plus
    the levels below's posterior covariance; observations have noise variance
    ``noise``.

    Attributes:
        X: `n x d` inputs.
        values: `n` observed values (larger is better).
        lengthscale: `d` RBF lengthscales.
        outputscale: the level's own prior variance.
        noise: observation noise variance.
        mean: the level's constant prior mean of its residual.
    """

    X: Tensor
    values: Tensor
    lengthscale: Tensor
    outputscale: Tensor
    noise: Tensor
    mean: Tensor

    def kernel(self, x1: Tensor, x2: Tensor) -> Tensor:
        """The level's own covariance, `... x n1 x n2` (squared distances by
        expansion, as GPyTorch computes them)."""
        z1, z2 = x1 / self.lengthscale, x2 / self.lengthscale
        sq = (z1**2).sum(-1, keepdim=True) - 2 * z1 @ z2.mT + (z2**2).sum(-1).unsqueeze(-2)
        return self.outputscale * torch.exp(-0.5 * sq.clamp_min(0))


class SourceHierarchy:
    """Posterior of the top level ``f_L`` of fitted levels ``0..L``, all levels'
    data at once.

    Level ``i``'s function is ``f_i = g_0 + ... + g_i`` with independent GPs
    ``g_m`` (level ``m``'s mean and kernel), and its data observe ``f_i``.
    Conditioning the levels one after another on their data, each taking the
    previous posterior as its prior (SHGP's definition), gives the same
    posterior as conditioning this joint model on every level's data, which
    is what is computed: one Cholesky factor of the joint covariance of all
    level data, ``cov(f_i(x), f_j(x')) = sum_{m <= min(i, j)} k_m(x, x')``.

    Args:
        levels: the fitted levels, bottom first (may be empty: a zero prior).
    """

    def __init__(self, levels: list[Level]) -> None:
        self.levels = levels
        if not levels:
            return
        X = torch.cat([lvl.X for lvl in levels])
        level_of = torch.cat(
            [torch.full((len(lvl.X),), i, dtype=torch.long) for i, lvl in enumerate(levels)]
        )
        # Row r sees level m's kernel when the row's level is m or above.
        self._sees = torch.stack([level_of >= m for m in range(len(levels))]).to(X.dtype)
        self._X = X
        with torch.no_grad():
            joint = sum(lvl.kernel(X, X) * torch.outer(s, s) for lvl, s in zip(levels, self._sees))
            noise = torch.stack([lvl.noise for lvl in levels])[level_of]
            L = psd_safe_cholesky(joint + torch.diag(noise))
            prior_mean = torch.cumsum(torch.stack([lvl.mean for lvl in levels]), 0)[level_of]
            values = torch.cat([lvl.values for lvl in levels])
            self._alpha = torch.cholesky_solve((values - prior_mean).unsqueeze(-1), L).squeeze(-1)
            self._L_inv = torch.linalg.solve_triangular(
                L, torch.eye(len(X), dtype=X.dtype), upper=False
            )
        self._top_mean = sum(lvl.mean for lvl in levels)
        self._top_variance = sum(lvl.outputscale for lvl in levels)

    def on(self, device: torch.device) -> SourceHierarchy:
        """This hierarchy with every tensor on ``device`` (``self`` on the CPU)."""
        if torch.device(device).type == "cpu":
            return self
        moved = copy.copy(self)
        moved.__dict__ = {
            k: v.to(device) if isinstance(v, Tensor) else v for k, v in self.__dict__.items()
        }
        moved.levels = [
            Level(**{f: getattr(lvl, f).to(device) for f in Level.__dataclass_fields__})
            for lvl in self.levels
        ]
        return moved

    def _cross(self, x: Tensor) -> Tensor:
        """``cov(f_L(x), level data)``: `... x n x N`."""
        return sum(lvl.kernel(x, self._X) * s for lvl, s in zip(self.levels, self._sees))

    def mean(self, x: Tensor) -> Tensor:
        """Posterior mean of the top level at ``x`` (`... x n x d`), `... x n`."""
        if not self.levels:
            return x.new_zeros(x.shape[:-1])
        return self._top_mean + self._cross(x) @ self._alpha

    def covariance(self, x1: Tensor, x2: Tensor) -> Tensor:
        """Posterior covariance of the top level, `... x n1 x n2`."""
        if not self.levels:
            return x1.new_zeros((*x1.shape[:-1], x2.shape[-2]))
        prior = sum(lvl.kernel(x1, x2) for lvl in self.levels)
        w1 = self._cross(x1) @ self._L_inv.mT
        w2 = self._cross(x2) @ self._L_inv.mT
        return prior - w1 @ w2.mT

    def variance(self, x: Tensor) -> Tensor:
        """Posterior variance of the top level at ``x``, `... x n`."""
        if not self.levels:
            return x.new_zeros(x.shape[:-1])
        w = self._cross(x) @ self._L_inv.mT
        return (self._top_variance - (w**2).sum(-1)).clamp_min(0)


class StackedHierarchies:
    """The posteriors of S runs' :class:`SourceHierarchy` (the same levels'
    sizes in every run, as the seeds of a block have) evaluated as one batched
    expression: inputs `... x S x n x d`, run ``s``'s hierarchy at position
    ``S``. What :func:`~bo_transfer.methods.batch.per_seed` over the
    hierarchies computes, without S Python calls per evaluation (the inherited
    covariance is evaluated at every marginal-likelihood and acquisition
    evaluation of ``shgp``'s target level).

    Args:
        hierarchies: non-empty hierarchies of equal shapes
            (:meth:`stackable`).
    """

    def __init__(self, hierarchies: list[SourceHierarchy]) -> None:
        first = hierarchies[0]
        self._sees = first._sees  # levels x N, the same in every run
        self._X = torch.stack([h._X for h in hierarchies])  # S x N x d
        self._alpha = torch.stack([h._alpha for h in hierarchies])  # S x N
        self._L_inv = torch.stack([h._L_inv for h in hierarchies])  # S x N x N
        self._lengthscales = [
            torch.stack([h.levels[m].lengthscale for h in hierarchies]).unsqueeze(-2)
            for m in range(len(first.levels))
        ]  # per level, S x 1 x d
        self._outputscales = [
            torch.stack([h.levels[m].outputscale for h in hierarchies])[:, None, None]
            for m in range(len(first.levels))
        ]  # per level, S x 1 x 1
        self._top_mean = torch.stack([torch.as_tensor(h._top_mean) for h in hierarchies])
        self._top_variance = torch.stack([torch.as_tensor(h._top_variance) for h in hierarchies])

    @staticmethod
    def stackable(hierarchies: list[SourceHierarchy]) -> bool:
        """Whether the hierarchies have levels, all of the same sizes."""
        shapes = {
            tuple(tuple(lvl.X.shape) for lvl in h.levels) if h.levels else None for h in hierarchies
        }
        return len(shapes) == 1 and None not in shapes

    def _kernel(self, m: int, x1: Tensor, x2: Tensor) -> Tensor:
        """Level ``m``'s own covariance per run, as :meth:`Level.kernel`."""
        z1, z2 = x1 / self._lengthscales[m], x2 / self._lengthscales[m]
        sq = (z1**2).sum(-1, keepdim=True) - 2 * z1 @ z2.mT + (z2**2).sum(-1).unsqueeze(-2)
        return self._outputscales[m] * torch.exp(-0.5 * sq.clamp_min(0))

    def _cross(self, x: Tensor) -> Tensor:
        return sum(self._kernel(m, x, self._X) * s for m, s in enumerate(self._sees))

    def mean(self, x: Tensor) -> Tensor:
        """`... x S x n` posterior means of the top levels."""
        return self._top_mean.unsqueeze(-1) + (self._cross(x) @ self._alpha.unsqueeze(-1)).squeeze(
            -1
        )

    def covariance(self, x1: Tensor, x2: Tensor) -> Tensor:
        """`... x S x n1 x n2` posterior covariances of the top levels."""
        prior = sum(self._kernel(m, x1, x2) for m in range(len(self._sees)))
        w1 = self._cross(x1) @ self._L_inv.mT
        w2 = self._cross(x2) @ self._L_inv.mT
        return prior - w1 @ w2.mT

    def variance(self, x: Tensor) -> Tensor:
        """`... x S x n` posterior variances of the top levels."""
        w = self._cross(x) @ self._L_inv.mT
        return (self._top_variance.unsqueeze(-1) - (w**2).sum(-1)).clamp_min(0)


def hierarchy_means(hierarchies: list[SourceHierarchy]) -> Callable[[Tensor], Tensor]:
    """S runs' top-level posterior means as one function of `... x S x n x d`
    inputs (`... x S x n`): batched where the hierarchies stack."""
    if StackedHierarchies.stackable(hierarchies):
        return StackedHierarchies(hierarchies).mean
    means = [h.mean for h in hierarchies]
    return lambda x: per_seed(means, x)


class InheritedCovariance(Kernel):
    """The posterior covariance of the levels below, as a fixed kernel in a
    level's standardized units (divided by ``scale^2``, the square of the
    standard deviation its residuals were standardized by); one per run of a
    batch of S runs (inputs `... x S x n x d`), all runs in one expression
    (:class:`StackedHierarchies`) where their hierarchies have the same shapes.
    No parameters.

    Args:
        hierarchies: each run's levels below.
        scales: `S` standard deviations.
    """

    def __init__(self, hierarchies: list[SourceHierarchy], scales: Tensor) -> None:
        super().__init__()
        self.hierarchies = hierarchies
        self.stacked = (
            StackedHierarchies(hierarchies) if StackedHierarchies.stackable(hierarchies) else None
        )
        self.register_buffer("inv_scale2", scales.detach().reshape(-1) ** -2)

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, **params) -> Tensor:
        if diag:
            if self.stacked is not None:
                var = self.stacked.variance(x1)
            else:
                var = per_seed([h.variance for h in self.hierarchies], x1)
            return var * self.inv_scale2.unsqueeze(-1)
        if self.stacked is not None:
            cov = self.stacked.covariance(x1, x2)
        else:
            # x2 rides along with x1, so per_seed hands each run its own pair.
            batch = torch.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
            n1 = x1.shape[-2]
            both = torch.cat(
                [x1.expand(*batch, *x1.shape[-2:]), x2.expand(*batch, *x2.shape[-2:])], -2
            )
            cov = per_seed(
                [
                    lambda x, h=h: h.covariance(x[..., :n1, :], x[..., n1:, :])
                    for h in self.hierarchies
                ],
                both,
            )
        return cov * self.inv_scale2.unsqueeze(-1).unsqueeze(-1)


@register_method(
    "shgp",
    summary="Sequential hierarchical GP: like mhgp, but each level's prior covariance adds the "
    "posterior covariance of the levels below, so the target sees the sources' uncertainty; "
    "LogEI",
    citation="Tighineanu, Skubch, Baireuther, Reiss, Berkenkamp, Vinogradska. Transfer Learning "
    "with Gaussian Processes for Bayesian Optimization. AISTATS 2022 (SHGP)",
    bib_key="tighineanu2022transfer",
)
class SHGP(BatchedMethod):
    """As ``mhgp``, level ``l`` (a source, or the target last) is a GP on the
    residual of its raw values from the posterior mean ``m_{l-1}`` of the
    levels below; its prior covariance is ``k_l(x, x') + C_{l-1}(x, x')``,
    its own kernel plus the posterior covariance of the levels below, and its
    hyperparameters (``k_l``, noise, constant mean) are fitted by the marginal
    likelihood of the residuals under that sum, as in Tighineanu et al. 2022
    and their code. The target's prediction is then the posterior of the whole
    hierarchy: the sources' posterior mean plus the target level's posterior
    mean of the residual, and a variance that includes the sources' posterior
    variance (:class:`SourceHierarchy` computes the sources' part). ``k_l`` is
    BoTorch's RBF kernel with its dimension-scaled lengthscale prior, times a
    fitted output scale (without it a level could not hand the residual over to
    the inherited covariance). The acquisition is LogEI."""

    def __init__(self) -> None:
        super().__init__()
        #: The fitted source level GPs, bottom first.
        self.levels: list[SingleTaskGP] = []
        self._hierarchy = SourceHierarchy([])

    def fit_level(
        self, X: Tensor, values: Tensor, below: SourceHierarchy, slot: str | None
    ) -> SingleTaskGP:
        """The GP of one source level on ``values`` (`n`, larger is better) at
        ``X``, fitted to their residual from ``below``'s posterior mean, with
        ``below``'s posterior covariance added to its kernel."""
        return self.fit_levels([self], X.unsqueeze(0), values.unsqueeze(0), [below], slot)

    @staticmethod
    def fit_levels(
        methods: Sequence[SHGP],
        X: Tensor,
        values: Tensor,
        below: list[SourceHierarchy],
        slot: str | None,
    ) -> SingleTaskGP:
        """One level of S runs as a batch-``S`` GP: run ``s``'s level on
        ``values[s]`` (`S x n`) at ``X[s]`` (`S x n x d`) over ``below[s]``."""
        with torch.no_grad():
            residual = values - hierarchy_means(below)(X)
        own = ScaleKernel(
            get_covar_module_with_dim_scaled_prior(
                ard_num_dims=X.shape[-1], batch_shape=torch.Size([len(methods)])
            ),
            batch_shape=torch.Size([len(methods)]),
        )
        model = SingleTaskGP(X, residual.unsqueeze(-1), covar_module=own)
        if below[0].levels:
            scales = model.outcome_transform.stdvs.reshape(-1)
            model.covar_module = own + InheritedCovariance(below, scales)
        return fit_batch(methods, model, slot)

    @staticmethod
    def level(model: SingleTaskGP, values: Tensor) -> Level:
        """A fitted level GP's hyperparameters in raw units (a batch of one)."""
        tf = model.outcome_transform
        shift, scale = tf.means.squeeze(), tf.stdvs.squeeze()
        own = model.covar_module  # a ScaleKernel, or its sum with the inherited covariance
        if not isinstance(own, ScaleKernel):
            own = own.kernels[0]
        return Level(
            X=model.train_inputs[0].squeeze(0),
            values=values,
            lengthscale=own.base_kernel.lengthscale.detach().reshape(-1),
            outputscale=scale**2 * own.outputscale.detach().squeeze(),
            noise=scale**2 * model.likelihood.noise.detach().squeeze(),
            mean=shift + scale * model.mean_module.constant.detach().squeeze(),
        )

    def start(self, sources, dim: int, seed: int) -> None:
        super().start(sources, dim, seed)
        self.levels, fitted = [], []
        for X_s, y_s in source_arrays(sources):
            self.levels.append(self.fit_level(X_s, -y_s, SourceHierarchy(fitted), slot=None))
            fitted.append(self.level(self.levels[-1], -y_s))
        self._hierarchy = SourceHierarchy(fitted)

    @classmethod
    def acquisition_batch(cls, methods: Sequence[SHGP], X: Tensor, y: Tensor) -> StackLogEI:
        """The fitted target levels' LogEI of S runs (target data ``X``, `S x n x d`,
        ``y``, `S x n`); inputs `b x S x 1 x d`."""
        hierarchies = [m._hierarchy.on(X.device) for m in methods]
        target = cls.fit_levels(methods, X, -y, hierarchies, slot="target")
        return StackLogEI(target, hierarchy_means(hierarchies), best_f=(-y).max(-1).values)

    def acquisition(self, X: Tensor, y: Tensor) -> StackLogEI:
        """This run's LogEI for ``X`` (`n x d`), ``y`` (`n`): a batch of one."""
        return self.acquisition_batch([self], X.unsqueeze(0), y.unsqueeze(0))

    @classmethod
    def propose_batch(
        cls, methods: Sequence[SHGP], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        return maximize_batch(methods, cls.acquisition_batch(methods, X, y), seeds)
