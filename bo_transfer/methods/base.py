"""The method interface and the shared BoTorch helpers methods are built from.

A method proposes the next target point from the target data so far, the
source datasets and a seed. All problems are minimised on the unit cube; the
helpers here negate for BoTorch (which maximises) so a method never has to.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from abc import ABC, abstractmethod
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any, ClassVar

import gpytorch
import torch
from botorch.acquisition import (
    AcquisitionFunction,
    ExpectedImprovement,
    LogExpectedImprovement,
)
from botorch.exceptions.errors import CandidateGenerationError, ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.optim import optimize_acqf
from botorch.utils.datasets import SupervisedDataset
from gpytorch.kernels import Kernel
from gpytorch.means import Mean
from gpytorch.mlls import ExactMarginalLogLikelihood
from linear_operator.utils.errors import NanError, NotPSDError
from scipy import stats
from torch import Tensor

from bo_transfer.errors import UserError
from bo_transfer.methods import discrete
from bo_transfer.problems.base import DTYPE, sobol
from bo_transfer.registry import Registry

#: Acquisition optimisation settings, the same as a hand-written BoTorch loop.
NUM_RESTARTS = 10
RAW_SAMPLES = 512

#: Numerical failures of model fitting or acquisition optimisation. ``fit_gp``
#: retries them with more jitter, then keeps the previous hyperparameters; the
#: runner turns one that still escapes ``propose`` into a Sobol proposal.
NUMERICAL_FAILURES = (
    ModelFittingError,
    CandidateGenerationError,
    NotPSDError,
    NanError,
    torch.linalg.LinAlgError,
)

#: Cholesky jitter of the retry after a failed fit (GPyTorch's float64 default
#: is 1e-8).
RETRY_JITTER = 1e-4

#: Fitted source-GP hyperparameters by source data (content hash), per process:
#: methods and runs that see the same source data (same pair, seed and source
#: options) fit it once. Bounded, least recently used first out.
_SOURCE_FITS: OrderedDict[str, dict[str, Tensor]] = OrderedDict()
_SOURCE_FITS_MAX = 256


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
    initial design for the run, if any. :meth:`maximize` and
    :meth:`initial_design` then choose among the candidates, so a method built
    on them needs nothing more; a method with its own proposal logic must
    propose one of ``candidates`` (:mod:`bo_transfer.methods.discrete`).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    #: BibTeX keys in ``bo_transfer/references.bib`` (comma-separated); see
    #: :mod:`bo_transfer.analysis.citations`.
    bib_key: ClassVar[str] = ""
    #: True for a method whose ``propose`` is exactly
    #: ``self.gp_step(X, y, seed, acquisition=self.acquisition)``: a sweep's
    #: ``batch_seeds`` may then run several seeds of it as one batched GP
    #: (:mod:`bo_transfer.methods.seed_batch`).
    supports_seed_batching: ClassVar[bool] = False

    def __init__(self) -> None:
        self.timings = {"fit_s": 0.0, "acq_s": 0.0}
        self.trace: dict[str, list[Any]] = {}
        # Survived fitting failures: "jitter_retries", "kept_previous".
        self.fit_faults: Counter = Counter()
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
            _load_parameters(model, previous)
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        kwargs = {"optimizer_kwargs": {"options": optimizer_options}} if optimizer_options else {}
        try:
            fit_gpytorch_mll(mll, **kwargs)
        except NUMERICAL_FAILURES:
            self.fit_faults["jitter_retries"] += 1
            try:
                with gpytorch.settings.cholesky_jitter(
                    float_value=RETRY_JITTER, double_value=RETRY_JITTER
                ):
                    fit_gpytorch_mll(mll, **kwargs)
            except NUMERICAL_FAILURES:
                if not previous:
                    raise
                self.fit_faults["kept_previous"] += 1
                _load_parameters(model, previous)
                model.eval()
        if slot:
            self._previous[slot] = _parameters(model)
        self.timings["fit_s"] += time.perf_counter() - t0
        return model

    def fit_sources(self) -> list[SingleTaskGP]:
        """One GP per source on standardized source values (so every source
        model predicts in the same units, `-y` standardized), fitted once per
        distinct source data in a process and reused by every method and run
        that sees the same data."""
        models = []
        for X, y in source_arrays(self.sources):
            key = hashlib.sha1(X.numpy().tobytes() + y.numpy().tobytes()).hexdigest()
            cached = _SOURCE_FITS.get(key)
            if cached is None:
                model = self.fit_gp(X, standardize(y), slot=None)
                _SOURCE_FITS[key] = _parameters(model)
                while len(_SOURCE_FITS) > _SOURCE_FITS_MAX:
                    _SOURCE_FITS.popitem(last=False)
            else:
                _SOURCE_FITS.move_to_end(key)
                model = SingleTaskGP(X, -standardize(y).unsqueeze(-1))
                _load_parameters(model, cached)
                model.eval()
            models.append(model)
        return models

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
        acquisition: str = "logei",
    ) -> Tensor:
        """One GP-BO step on the target data: fit a GP (optionally with a prior
        mean), maximise an analytic acquisition (``"logei"`` or ``"ei"``,
        :data:`ACQUISITIONS`) over the cube or ``bounds``; a `1 x dim` tensor."""
        model = self.fit_gp(X, y, mean_module)
        acqf = ACQUISITIONS[acquisition](model, best_f=(-y).max())
        return self.maximize(acqf, seed, bounds)

    def log_ei_step(
        self, X: Tensor, y: Tensor, seed: int, mean_module: Mean | None = None
    ) -> Tensor:
        """One step of GP-LogEI on the target data (optionally with a prior mean)."""
        return self.gp_step(X, y, seed, mean_module)


#: Analytic single-point acquisitions a GP step can use, by option value.
ACQUISITIONS: dict[str, type[AcquisitionFunction]] = {
    "logei": LogExpectedImprovement,
    "ei": ExpectedImprovement,
}


METHODS: Registry[type[Method]] = Registry("method", group="bo_transfer.methods")


def register_method(
    name: str, summary: str = "", citation: str = "", bib_key: str = ""
) -> Callable:
    """Class decorator registering a :class:`Method` subclass under ``name``."""

    def decorator(cls: type[Method]) -> type[Method]:
        cls.name = name
        cls.summary = summary or (inspect.getdoc(cls) or "").split("\n")[0]
        cls.citation = citation
        cls.bib_key = bib_key
        METHODS.add(name, cls)
        return cls

    return decorator


def method_options(cls: type[Method]) -> list[str]:
    """Names of the options a method accepts."""
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p != "self"]


def make_method(name: str, options: dict[str, Any] | None = None) -> Method:
    """Instantiate a registered method; bad options raise a one-line UserError."""
    cls = METHODS.get(name)
    options = dict(options or {})
    valid = method_options(cls)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise UserError(
            f"method {name!r} has no option {unknown[0]!r}; "
            f"valid: {', '.join(valid) if valid else 'none'}"
        )
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise UserError(f"method {name!r}: {exc}") from None


def _parameters(model: torch.nn.Module) -> dict[str, Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _load_parameters(model: torch.nn.Module, values: dict[str, Tensor]) -> None:
    """Copy ``values`` into the parameters of ``model`` that match by name and shape."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            v = values.get(name)
            if v is not None and v.shape == p.shape:
                p.copy_(v)


def standardize(y: Tensor) -> Tensor:
    """Zero mean, unit standard deviation (a constant vector maps to zeros)."""
    std = y.std() if len(y) > 1 else torch.ones((), dtype=y.dtype)
    return (y - y.mean()) / (std if std > 0 else 1.0)


def unit_cube(dim: int) -> Tensor:
    """The `2 x dim` bounds of the unit cube."""
    return torch.stack([torch.zeros(dim, dtype=DTYPE), torch.ones(dim, dtype=DTYPE)])


def spearman(a: Tensor, b: Tensor) -> float:
    """Spearman rank correlation of two `n` tensors (0 when either is constant)."""
    if len(a) < 2 or a.min() == a.max() or b.min() == b.max():
        return 0.0
    return float(stats.spearmanr(a.detach().numpy(), b.detach().numpy()).statistic)


def source_arrays(sources: list[SupervisedDataset]) -> list[tuple[Tensor, Tensor]]:
    """``(X, y)`` per source, ``y`` as a `n` tensor."""
    return [(d.X.to(DTYPE), d.Y.to(DTYPE).squeeze(-1)) for d in sources]
