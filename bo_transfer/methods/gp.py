"""The GP toolkit methods are built from: fitting and acquisition optimisation
settings, numerical-failure handling and small tensor utilities.

All problems are minimised on the unit cube; BoTorch maximises, so the helpers
negate values and a method never has to. The batched counterparts (S seeds at
once) are in :mod:`bo_transfer.methods.batch`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import gpytorch
import torch
from botorch.acquisition import (
    AcquisitionFunction,
    ExpectedImprovement,
    LogExpectedImprovement,
    UpperConfidenceBound,
)
from botorch.exceptions.errors import CandidateGenerationError, ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.utils.datasets import SupervisedDataset
from linear_operator.utils.errors import NanError, NotPSDError
from scipy import stats
from torch import Tensor

from bo_transfer.problems.base import DTYPE

#: Acquisition optimisation settings, the same as a hand-written BoTorch loop.
NUM_RESTARTS = 10
RAW_SAMPLES = 512

#: Numerical failures of model fitting or acquisition optimisation. A fit
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

#: Analytic single-point acquisitions a GP step can use, by option value:
#: BoTorch's ``LogExpectedImprovement`` (Ament et al. 2023, the default of
#: every GP method), ``ExpectedImprovement`` and ``UpperConfidenceBound``
#: (Srinivas et al. 2010), the latter on the negated values BoTorch maximises,
#: i.e. a lower confidence bound on the minimised objective.
ACQUISITIONS: dict[str, type[AcquisitionFunction]] = {
    "logei": LogExpectedImprovement,
    "ei": ExpectedImprovement,
    "ucb": UpperConfidenceBound,
}

#: UCB's ``beta`` unless a method's options say otherwise: BoTorch's
#: ``UpperConfidenceBound`` adds ``sqrt(beta)`` posterior standard deviations.
DEFAULT_BETA = 2.0


def check_acquisition(acquisition: str, beta: float) -> None:
    """Raise ``ValueError`` (a method option's one-line error) for an unknown
    acquisition or a ``beta`` that is not a finite number >= 0."""
    if acquisition not in ACQUISITIONS:
        raise ValueError(
            f"acquisition must be one of {', '.join(ACQUISITIONS)}, got {acquisition!r}"
        )
    if not 0 <= beta < float("inf"):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")


def make_acquisition(
    acquisition: str, model: Any, best_f: Tensor, beta: float = DEFAULT_BETA
) -> AcquisitionFunction:
    """The analytic acquisition ``acquisition`` (:data:`ACQUISITIONS`) of
    ``model``: the EI variants improve on ``best_f`` (negated units, as the
    model's), UCB uses ``beta`` instead."""
    if acquisition == "ucb":
        return UpperConfidenceBound(model, beta=beta)
    return ACQUISITIONS[acquisition](model, best_f=best_f)


def fit_with_retries(
    mll: gpytorch.mlls.MarginalLogLikelihood,
    faults: Counter,
    restore_previous: Callable[[], None] | None,
    optimizer_options: dict[str, Any] | None = None,
) -> None:
    """Fit ``mll`` with BoTorch (which retries from resampled hyperparameters
    after an optimisation warning); after a numerical failure retry once with
    Cholesky jitter ``RETRY_JITTER``, then, if ``restore_previous`` is given,
    call it to keep the previous hyperparameters. Survived failures are
    counted in ``faults`` (``jitter_retries``, ``kept_previous``)."""
    kwargs = {"optimizer_kwargs": {"options": optimizer_options}} if optimizer_options else {}
    try:
        fit_gpytorch_mll(mll, **kwargs)
    except NUMERICAL_FAILURES:
        faults["jitter_retries"] += 1
        try:
            with gpytorch.settings.cholesky_jitter(
                float_value=RETRY_JITTER, double_value=RETRY_JITTER
            ):
                fit_gpytorch_mll(mll, **kwargs)
        except NUMERICAL_FAILURES:
            if restore_previous is None:
                raise
            faults["kept_previous"] += 1
            restore_previous()
            mll.model.eval()


def parameters_of(model: torch.nn.Module) -> dict[str, Tensor]:
    """A detached copy of every parameter of ``model``, by name."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def load_parameters(model: torch.nn.Module, values: dict[str, Tensor]) -> None:
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
    return float(stats.spearmanr(a.detach().cpu().numpy(), b.detach().cpu().numpy()).statistic)


def source_arrays(sources: list[SupervisedDataset]) -> list[tuple[Tensor, Tensor]]:
    """``(X, y)`` per source, ``y`` as a `n` tensor."""
    return [(d.X.to(DTYPE), d.Y.to(DTYPE).squeeze(-1)) for d in sources]
