"""What two execution layouts (a run alone or in a seed block, one worker or
several, another MKL code path) promise to agree on: the initial design
exactly, the first BO proposal within ``FIRST_PROPOSAL_ATOL``; after that,
trajectories agree in distribution only (see ``bo_transfer.reproducibility``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bo_transfer.reproducibility import FIRST_PROPOSAL_ATOL, layouts_disagree


def assert_results_agree(a, b, n_init: int) -> None:
    """Two ``RunResult``s of one spec computed in different layouts."""
    assert a.status == b.status == "done", (a.error, b.error)
    assert len(a.X) == len(b.X) and len(a.y) == len(b.y)
    assert a.X[:n_init] == b.X[:n_init] and a.y[:n_init] == b.y[:n_init]
    if len(a.X) > n_init:
        gap = np.max(np.abs(np.asarray(a.X[n_init]) - np.asarray(b.X[n_init])))
        assert gap <= FIRST_PROPOSAL_ATOL, f"first proposals {gap:.2e} apart"


def assert_frames_agree(a: pd.DataFrame, b: pd.DataFrame, n_init: int) -> None:
    """Two tidy frames (``load_results``) of the same runs from different layouts."""
    problem = layouts_disagree(a, b, n_init)
    assert problem is None, problem
