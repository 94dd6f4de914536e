"""Source-target alignment from the target points evaluated so far.

Negative transfer is explained by misalignment between source and target; a
practitioner can measure alignment before committing a budget by asking how
well each source model predicts the few target values already observed. Here,
per source, the frozen source-GP posterior mean at the evaluated target points
(:class:`~bo_transfer.methods.sources.SourcePosteriors`, fitted once per source
data) is compared with the observed target values by

- **Kendall's tau** (tau-b, ties counted as SciPy does): rank agreement, blind
  to the scale and to monotone distortions of either function;
- **cosine similarity of the two standardized vectors** (each centred and
  scaled to unit standard deviation), the alignment score of representation
  learning applied to function values. For centred vectors it equals their
  Pearson correlation.

Both lie in [-1, 1]: 1 when the source ranks (or shapes) the evaluated points
as the target does, -1 for an anti-correlated source. They are undefined
(None) below :data:`MIN_POINTS` finite target values or when either vector is
constant. Source models predict ``-y`` standardized (BoTorch maximises), so
their means are negated before the comparison.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from botorch.utils.datasets import SupervisedDataset
from scipy import stats
from torch import Tensor

#: Fewest finite target values an alignment score is computed from: with two
#: points tau and the cosine are +-1 whatever the functions.
MIN_POINTS = 3

#: The alignment scores, in the order the trace and the export list them.
SCORES = ("tau", "cosine")


def alignment_scores(predicted: np.ndarray, y: np.ndarray) -> dict[str, list[float | None]]:
    """Kendall's tau and the cosine of the standardized vectors, per source.

    Args:
        predicted: `n x K` source predictions of the target values (minimised
            units: larger means worse), one column per source.
        y: `n` observed target values; non-finite ones are left out.

    Returns:
        ``{"tau": [K values], "cosine": [K values], "n": finite points}``, a
        value None where it is undefined (fewer than :data:`MIN_POINTS` points,
        or a constant vector).
    """
    finite = np.isfinite(y)
    p, t = predicted[finite], y[finite]
    n = int(finite.sum())
    out: dict[str, Any] = {"tau": [], "cosine": [], "n": n}
    for k in range(predicted.shape[1]):
        tau = cosine = None
        col = p[:, k]
        if n >= MIN_POINTS and np.ptp(col) > 0 and np.ptp(t) > 0:
            tau = float(stats.kendalltau(col, t).statistic)
            a, b = _standardized(col), _standardized(t)
            cosine = float(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))
        out["tau"].append(tau)
        out["cosine"].append(cosine)
    return out


def _standardized(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / v.std()


def source_posteriors(sources: Sequence[SupervisedDataset]):
    """Frozen posteriors of one GP per source, fitted as warm-start methods fit
    them (:func:`~bo_transfer.methods.sources.fit_source_models`, shared
    per-process cache), on a fitter of their own so no method's timings or
    fault counters change, and with the global torch generator forked and
    seeded from the source data, so fitting here draws nothing a method would
    have drawn."""
    from bo_transfer.methods.base import Method
    from bo_transfer.methods.sources import SourcePosteriors, fit_source_models

    class _Fitter(Method):
        def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
            raise NotImplementedError

    fitter = _Fitter()
    fitter.sources = list(sources)
    digest = hashlib.sha1()
    for d in sources:
        digest.update(d.X.numpy().tobytes() + d.Y.numpy().tobytes())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(digest.hexdigest()[:8], 16))
        models = fit_source_models(fitter)
    return SourcePosteriors(models), fitter.timings["fit_s"]


class AlignmentTrace:
    """Alignment of every source after each target evaluation of one run.

    Args:
        sources: the run's source data sets.

    ``record()`` is what a run stores (``metadata["alignment"]``): ``n``
    (finite target values so far), and ``tau`` and ``cosine``, each a list
    with one entry per evaluation holding one value per source (None where
    undefined); ``fit_s`` the seconds spent fitting the source models (0 when
    the process had them cached).
    """

    def __init__(self, sources: Sequence[SupervisedDataset]) -> None:
        self.posteriors, self.fit_s = source_posteriors(sources)
        self._predicted = np.empty((0, self.posteriors.n_sources))
        self._y = np.empty(0)
        self._trace: dict[str, list[Any]] = {"n": [], "tau": [], "cosine": []}

    def add(self, X: Tensor, y: Tensor) -> None:
        """Score after each of the `m x d` points ``X`` with values ``y`` (`m`)."""
        with torch.no_grad():
            predicted = -self.posteriors.means(X).numpy()
        for row, value in zip(predicted, y.tolist()):
            self._predicted = np.vstack([self._predicted, row])
            self._y = np.append(self._y, value)
            scores = alignment_scores(self._predicted, self._y)
            for name in ("n", *SCORES):
                self._trace[name].append(scores[name])

    def record(self) -> dict[str, Any]:
        return {**self._trace, "fit_s": self.fit_s}


def alignment_at(
    sources: Sequence[SupervisedDataset], X: Tensor, y: Tensor
) -> dict[str, list[float | None]]:
    """Alignment of each source with the target values ``y`` (`n`) observed at
    ``X`` (`n x d`), as :func:`alignment_scores` returns it."""
    posteriors, _ = source_posteriors(sources)
    with torch.no_grad():
        predicted = -posteriors.means(X).numpy()
    return alignment_scores(predicted, np.asarray(y, dtype=float))
