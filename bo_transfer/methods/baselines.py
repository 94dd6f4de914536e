"""Cold-start baselines: they ignore the sources."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from bo_transfer.methods import discrete
from bo_transfer.methods.base import DEFAULT_BETA, BatchedMethod, Method, register_method
from bo_transfer.methods.batch import gp_step_batch
from bo_transfer.problems.base import sobol


@register_method(
    "random",
    summary="Quasi-random search: continues the run's scrambled Sobol sequence",
    citation="Bergstra, Bengio. Random Search for Hyper-Parameter Optimization. JMLR 2012",
    bib_key="bergstra2012random",
)
class RandomSearch(Method):
    """Point ``n`` is the ``n``-th point of the run's Sobol sequence, so the initial
    design and the proposals form one low-discrepancy sequence. On a tabular
    target it samples the table without replacement: each proposal is drawn
    uniformly from the configurations not yet evaluated."""

    def __init__(self) -> None:
        super().__init__()

    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        if self.candidates is not None:
            return discrete.draw(self.candidates, 1, seed)
        return sobol(X.shape[0] + 1, self.dim, self.seed)[-1:]


@register_method(
    "cold-gp",
    summary="GP (SingleTaskGP) + LogEI on the target data only",
    citation="Ament et al. Unexpected Improvements to Expected Improvement for "
    "Bayesian Optimization. NeurIPS 2023",
    bib_key="ament2023unexpected",
)
class ColdGP(BatchedMethod):
    """Standard GP-based BO; the cold-start baseline. ``acquisition`` is
    ``"logei"`` (default, log expected improvement), ``"ei"`` (plain expected
    improvement, whose flat regions LogEI was designed to fix) or ``"ucb"``
    (a confidence bound ``sqrt(beta)`` standard deviations out; Srinivas et
    al. 2010)."""

    def __init__(self, acquisition: str = "logei", beta: float = DEFAULT_BETA) -> None:
        super().__init__()
        self._options = self.set_acquisition(acquisition, beta)

    def config(self) -> dict:
        return dict(self._options)

    @classmethod
    def propose_batch(
        cls, methods: Sequence[ColdGP], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        return gp_step_batch(methods, X, y, seeds)
