"""Shifted copies: a base function against itself displaced by ``delta``.

The source is ``f(x - delta u)`` for a random unit direction ``u`` (drawn per
``instance``), the target ``f`` itself: the landscape is the same, only its
optimum moves by ``delta`` (unit-cube distance), so correlation decays smoothly
from 1 as ``delta`` grows. This isolates the effect of optimum displacement,
the failure mode studied by Shilton et al., *Regret Bounds for Transfer Learning
in Bayesian Optimisation*, AISTATS 2017, and by the "shifted" variants of
Tighineanu et al. (AISTATS 2022). ``sign = -1`` negates the source;
``instance`` picks the direction, ``instance=seed`` direction s for seed s.
"""

from __future__ import annotations

import torch

from bo_transfer.problems.alpine import alpine
from bo_transfer.problems.base import (
    DTYPE,
    FunctionProblem,
    NegatedProblem,
    Problem,
    ShiftedProblem,
)
from bo_transfer.problems.branin import branin_problem
from bo_transfer.problems.exact import fixed_norm
from bo_transfer.problems.families import Param, register_family
from bo_transfer.problems.forrester import forrester
from bo_transfer.problems.hartmann import hartmann_problem
from bo_transfer.seeding import derive_seed

BASES = {
    "forrester": lambda: FunctionProblem(forrester, 1, "forrester"),
    "alpine": lambda: FunctionProblem(alpine, 1, "alpine"),
    "branin": branin_problem,
    "hartmann3": lambda: hartmann_problem(3),
    "hartmann6": lambda: hartmann_problem(6),
}


@register_family(
    "shift",
    params=[
        Param("base", str, "branin", choices=tuple(BASES), help="the base function"),
        Param("delta", float, 0.1, 0.0, 1.0, "distance the source's landscape is moved"),
        Param("sign", int, 1, choices=(1, -1), help="-1 negates the source"),
        Param(
            "instance",
            int,
            0,
            0,
            None,
            "which random direction (seed: the run's seed)",
            by_seed=True,
        ),
    ],
    summary="A base function vs. a copy displaced by delta in a random direction",
    citation="Shilton et al. Regret Bounds for Transfer Learning in Bayesian Optimisation. "
    "AISTATS 2017",
    bib_key="shilton2017regret",
    examples=("shift:base=branin,delta=0.1", "shift:base=branin,delta=0.4", "shift:base=hartmann3"),
)
def build_shift_pair(base: str, delta: float, sign: int, instance: int):
    target: Problem = BASES[base]()
    gen = torch.Generator().manual_seed(derive_seed("shift-pair", base, instance))
    u = torch.randn(target.dim, generator=gen, dtype=DTYPE)
    offset = delta * u / fixed_norm(u)
    source: Problem = ShiftedProblem(target, offset, f"{base}-shifted(delta={delta})")
    if sign == -1:
        source = NegatedProblem(source)
    return target, [source]
