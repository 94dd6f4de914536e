"""What is optimised: unit-cube problems, pair families and the pair registry."""

from bo_transfer.problems import (  # noqa: F401  (register families)
    alpine,
    branin,
    forrester,
    gp_sample,
    hartmann,
    hpo,
    hpob,
    negate,
    shift,
)
from bo_transfer.problems.base import FunctionProblem, NegatedProblem, Optimum, Problem
from bo_transfer.problems.families import (
    FAMILIES,
    PairFamily,
    Param,
    canonical_pair_name,
    register_family,
)
from bo_transfer.problems.observed import ObservedSource
from bo_transfer.problems.pair import DEFAULT_N_SOURCE, TransferPair, get_pair
from bo_transfer.problems.table import register_env_tables, register_table_pairs
from bo_transfer.problems.user import register_pair

__all__ = [
    "DEFAULT_N_SOURCE",
    "FAMILIES",
    "FunctionProblem",
    "NegatedProblem",
    "ObservedSource",
    "Optimum",
    "Param",
    "PairFamily",
    "Problem",
    "TransferPair",
    "canonical_pair_name",
    "get_pair",
    "register_family",
    "register_pair",
    "register_table_pairs",
]

# Tables declared for this process and its workers (a spec's ``tables``).
register_env_tables()
