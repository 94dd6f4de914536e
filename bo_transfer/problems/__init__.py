"""What is optimised: unit-cube problems, pair families and the pair registry."""

from bo_transfer.problems import forrester, gp_sample  # noqa: F401  (register families)
from bo_transfer.problems.base import FunctionProblem, Optimum, Problem
from bo_transfer.problems.pair import (
    DEFAULT_N_SOURCE,
    FAMILIES,
    PairFamily,
    Param,
    TransferPair,
    canonical_pair_name,
    get_pair,
    register_family,
)

__all__ = [
    "DEFAULT_N_SOURCE",
    "FAMILIES",
    "FunctionProblem",
    "Optimum",
    "Param",
    "PairFamily",
    "Problem",
    "TransferPair",
    "canonical_pair_name",
    "get_pair",
    "register_family",
]
