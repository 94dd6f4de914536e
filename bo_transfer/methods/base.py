"""The method interface: what a BO method implements, and its per-run state.

A method proposes the next target point from the target data so far, the
source datasets and a seed. All problems are minimised on the unit cube; the
helpers (:mod:`bo_transfer.methods.gp`, :mod:`bo_transfer.methods.batch`)
negate for BoTorch (which maximises) so a method never has to.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.models import SingleTaskGP
from botorch.optim import optimize_acqf
from botorch.utils.datasets import SupervisedDataset
from gpytorch.kernels import Kernel
from gpytorch.means import Mean
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from bo_transfer.methods import discrete
from bo_transfer.methods.gp import (
    ACQUISITIONS,
    DEFAULT_BETA,
    NUM_RESTARTS,
    NUMERICAL_FAILURES,
    RAW_SAMPLES,
    RETRY_JITTER,
    check_acquisition,
    fit_with_retries,
    load_parameters,
    make_acquisition,
    parameters_of,
    source_arrays,
    spearman,
    standardize,
    unit_cube,
)
from bo_transfer.methods.registry import METHODS, make_method, method_options, register_method
from bo_transfer.problems.base import sobol

__all__ = [
    "ACQUISITIONS",
    "DEFAULT_BETA",
    "METHODS",
    "NUMERICAL_FAILURES",
    "NUM_RESTARTS",
    "RAW_SAMPLES",
    "RETRY_JITTER",
    "BatchedMethod",
    "Method",
    "has_batched_step",
    "make_method",
    "method_options",
    "register_method",
    "source_arrays",
    "spearman",
    "standardize",
    "unit_cube",
]


class Method(ABC):
    """A BO method: subclass, implement :meth:`propose`, register with
    :func:`register_method`.

    One instance serves one run: :meth:`start` is called once with the source
    data (do source-side work there), then :meth:`initial_design` once, then
    :meth:`propose` once per iteration. Options are the keyword arguments of
    ``__init__``; a spec passes them by name, and :meth:`config` should return
    them so each stored run names its settings. Per-iteration diagnostics go
    through :meth:`record`. The helpers (:meth:`fit_gp`, :meth:`fit_sources`,
    :meth:`maximize`, :meth:`gp_step`) keep a typical method to a few lines.

    On a tabular target (a finite table of evaluated configurations) the runner
    sets ``candidates`` to the `m x dim` configurations not yet evaluated
    (None on a continuous target) and ``given_design`` to the data set's own
    initial design for the run, if any. :meth:`maximize`,
    :func:`~bo_transfer.methods.batch.maximize_batch` and
    :meth:`initial_design` then choose among the candidates, so a method built
    on them needs nothing more; a method with its own proposal logic must
    propose one of ``candidates`` (:mod:`bo_transfer.methods.discrete`).

    A method whose step can run for several seeds at once subclasses
    :class:`BatchedMethod` instead.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    #: BibTeX keys in ``bo_transfer/references.bib`` (comma-separated); see
    #: :mod:`bo_transfer.analysis.citations`.
    bib_key: ClassVar[str] = ""
    #: The acquisition :meth:`gp_step` and ``gp_step_batch`` maximise, and
    #: UCB's ``beta``: a GP method takes both as options ``acquisition`` and
    #: ``beta`` (:meth:`set_acquisition`).
    acquisition_kind: str = "logei"
    ucb_beta: float = DEFAULT_BETA

    def __init__(self) -> None:
        self.timings = {"fit_s": 0.0, "acq_s": 0.0}
        self.trace: dict[str, list[Any]] = {}
        # Survived fitting failures: "jitter_retries", "kept_previous".
        self.fit_faults: Counter = Counter()
        # Fitted hyperparameters by slot, the next fit's start (see fit_gp).
        self._previous: dict[str, dict[str, Tensor]] = {}
        self.sources: list[SupervisedDataset] = []
        self.dim = 0
        self.seed = 0
        self.candidates: Tensor | None = None
        self.given_design: Tensor | None = None

    def start(self, sources: list[SupervisedDataset], dim: int, seed: int) -> None:
        """Called once per run. ``seed`` is shared by every method run on the same
        pair and seed (common random numbers for paired comparisons)."""
        self.sources, self.dim, self.seed = sources, dim, seed

    def initial_design(self, n: int) -> Tensor:
        """`n x dim` initial points; default: the first ``n`` points of a scrambled
        Sobol sequence seeded by the run seed, the same for every method. On a
        tabular target: the data set's own design (``given_design``), filled up
        with candidates drawn at random by the run seed."""
        if self.candidates is not None:
            return self.candidate_design(n)
        return sobol(n, self.dim, self.seed)

    def candidate_design(self, n: int, first: Tensor | None = None) -> Tensor:
        """``n`` distinct candidates of a tabular target: the `k x dim` points
        ``first`` (a method's own wishes) moved to their nearest distinct
        candidates, then ``given_design``, then random candidates (run seed)."""
        return discrete.design(self.candidates, n, self.seed, first, self.given_design)

    @abstractmethod
    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        """Next point, a `1 x dim` tensor in the unit cube.

        Args:
            X: `n x dim` target inputs evaluated so far.
            y: `n` target values (minimised; non-finite values already imputed).
            seed: a seed for this iteration's random draws.
        """

    def config(self) -> dict[str, Any]:
        """Options and settings recorded with each run."""
        return {}

    def set_acquisition(self, acquisition: str, beta: float) -> dict[str, Any]:
        """Validate and keep a GP method's ``acquisition`` (``"logei"``,
        ``"ei"`` or ``"ucb"``, :data:`ACQUISITIONS`) and ``beta`` (UCB's)
        options; returns them for :meth:`config`. A method offers them by
        taking ``acquisition: str = "logei", beta: float = DEFAULT_BETA`` in
        ``__init__`` and calling this."""
        check_acquisition(acquisition, beta)
        self.acquisition_kind, self.ucb_beta = acquisition, float(beta)
        return {"acquisition": acquisition, "beta": self.ucb_beta}

    def record(self, name: str, value: Any) -> None:
        """Append a per-iteration diagnostic (a learned correlation, ensemble
        weights, a decision) to ``self.trace[name]``; the runner stores the trace
        with the run (``metadata["trace"]``), so values must be JSON-able."""
        self.trace.setdefault(name, []).append(value)

    # Shared helpers: fitting and acquisition optimisation, timed per run.

    def fit_gp(
        self,
        X: Tensor,
        y: Tensor,
        mean_module: Mean | None = None,
        covar_module: Kernel | None = None,
        slot: str | None = "target",
    ) -> SingleTaskGP:
        """A `SingleTaskGP` on ``(X, -y)`` with standardized outcomes, fitted by
        maximum marginal likelihood.

        Models refitted every iteration share a ``slot`` (default ``"target"``):
        the fit starts from that slot's previous hyperparameters, which
        converges in fewer L-BFGS steps than BoTorch's default start, and if the
        fit fails numerically even after a retry with jitter ``RETRY_JITTER``,
        those previous hyperparameters are kept (both counted in
        ``fit_faults``). ``slot=None`` fits from the default start, once.

        Args:
            X: `n x d` inputs.
            y: `n` values (minimised; negated here).
            mean_module: optional prior mean (default: a learned constant).
            covar_module: optional kernel (default: BoTorch's RBF with priors).
            slot: the name under which the hyperparameters are carried over.
        """
        model = SingleTaskGP(
            X, -y.unsqueeze(-1), mean_module=mean_module, covar_module=covar_module
        )
        return self.fit_model(model, slot)

    def fit_model(
        self,
        model: torch.nn.Module,
        slot: str | None = "target",
        optimizer_options: dict[str, Any] | None = None,
    ) -> Any:
        """Fit any GPyTorch exact GP by maximum marginal likelihood, as
        :meth:`fit_gp` does: start from ``slot``'s previous hyperparameters
        (those whose name and shape match), retry a numerical failure with
        jitter ``RETRY_JITTER``, then keep the previous hyperparameters (both
        counted in ``fit_faults``). ``optimizer_options`` go to SciPy's L-BFGS-B
        (e.g. ``{"maxiter": 150}``). Returns ``model``, fitted, in eval mode.
        """
        t0 = time.perf_counter()
        previous = self._previous.get(slot) if slot else None
        if previous:
            load_parameters(model, previous)
        fit_with_retries(
            ExactMarginalLogLikelihood(model.likelihood, model),
            self.fit_faults,
            (lambda: load_parameters(model, previous)) if previous else None,
            optimizer_options,
        )
        if slot:
            self._previous[slot] = parameters_of(model)
        self.timings["fit_s"] += time.perf_counter() - t0
        return model

    def fit_sources(self) -> list[SingleTaskGP]:
        """One GP per source on standardized source values (so every source
        model predicts in the same units, `-y` standardized), fitted once per
        distinct source data in a process
        (:func:`~bo_transfer.methods.sources.fit_source_models`)."""
        from bo_transfer.methods.sources import fit_source_models

        return fit_source_models(self)

    def maximize(
        self, acqf: AcquisitionFunction, seed: int, bounds: Tensor | None = None
    ) -> Tensor:
        """Maximise ``acqf`` over the unit cube (or the `2 x dim` box ``bounds``
        inside it); returns a `1 x dim` tensor. On a tabular target: over the
        remaining ``candidates`` (those inside ``bounds`` if any are), by
        enumeration.

        Deterministic for ``seed``: BoTorch picks restart points with the global
        torch generator, so it is reseeded here inside a forked RNG state.
        """
        t0 = time.perf_counter()
        if self.candidates is not None:
            x = discrete.maximize_discrete(acqf, self.candidates, bounds)
            self.timings["acq_s"] += time.perf_counter() - t0
            return x
        if bounds is None:
            bounds = unit_cube(self.dim)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            x, _ = optimize_acqf(
                acqf,
                bounds=bounds,
                q=1,
                num_restarts=NUM_RESTARTS,
                raw_samples=RAW_SAMPLES,
                options={"seed": seed},
            )
        self.timings["acq_s"] += time.perf_counter() - t0
        return x.detach()

    def gp_step(
        self,
        X: Tensor,
        y: Tensor,
        seed: int,
        mean_module: Mean | None = None,
        bounds: Tensor | None = None,
        acquisition: str | None = None,
    ) -> Tensor:
        """One GP-BO step on the target data: fit a GP (optionally with a prior
        mean), maximise an analytic acquisition (:data:`ACQUISITIONS`; default
        the method's ``acquisition`` option, LogEI unless set) over the cube or
        ``bounds``; a `1 x dim` tensor."""
        model = self.fit_gp(X, y, mean_module)
        acqf = make_acquisition(
            acquisition or self.acquisition_kind, model, (-y).max(), self.ucb_beta
        )
        return self.maximize(acqf, seed, bounds)

    def log_ei_step(
        self, X: Tensor, y: Tensor, seed: int, mean_module: Mean | None = None
    ) -> Tensor:
        """One step of GP-LogEI on the target data (optionally with a prior mean)."""
        return self.gp_step(X, y, seed, mean_module)


class BatchedMethod(Method):
    """A method whose step is written for S runs at once (S seeds of one
    method and options, in lock-step): implement :meth:`propose_batch`;
    :meth:`propose` is the same step for a batch of one, so a run takes the
    same steps alone or in a seed block (to the maths library's rounding: see
    :mod:`bo_transfer.reproducibility`).

    A subclass that overrides :meth:`propose` alone is not batched (see
    :func:`has_batched_step`): its own ``propose`` is never bypassed.
    """

    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        return type(self).propose_batch([self], X.unsqueeze(0), y.unsqueeze(0), [seed])

    @classmethod
    @abstractmethod
    def propose_batch(
        cls, methods: Sequence[Method], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        """The next point of each of S runs, a `S x dim` tensor.

        Build it from the batched toolkit (:mod:`bo_transfer.methods.batch`):
        element ``s`` of every model and acquisition is run ``s``'s and
        depends on nothing of the others'.

        Args:
            methods: the S runs' instances (same class and options, each
                started with its run's sources and seed).
            X: `S x n x dim` target inputs of each run.
            y: `S x n` target values (minimised; non-finite values imputed).
            seeds: each run's seed for this iteration.

        Raises:
            One of :data:`NUMERICAL_FAILURES`, or
            :class:`~bo_transfer.methods.batch.BatchFallback`: the runs then
            take their own steps (batches of one).
        """


def has_batched_step(cls: type[Method]) -> bool:
    """Whether ``cls`` has a batched step that computes its ``propose``: its
    ``propose_batch`` is defined in the class that defines ``propose`` or in a
    subclass of it. A subclass that overrides ``propose`` alone, or a plain
    :class:`Method`, has none."""

    def owner(attribute: str) -> type | None:
        return next((k for k in cls.__mro__ if attribute in vars(k)), None)

    batch_owner = owner("propose_batch")
    if batch_owner is None or getattr(cls.propose_batch, "__isabstractmethod__", False):
        return False
    return issubclass(batch_owner, owner("propose"))
