"""The Forrester multi-fidelity pair.

Target: ``f(x) = (6x - 2)^2 sin(12x - 4)`` on [0, 1]; source (the classic
low-fidelity variant): ``a f(x) + b (x - 0.5) - c`` with A = 0.5, B = 10 and
C = -5, so the constant is +5 (Forrester, Sobester and Keane, *Multi-fidelity
optimization via surrogate modelling*, Proc. R. Soc. A 463, 2007, sec. 3;
*Engineering Design via Surrogate Modelling*, Wiley 2008, sec. 8.5; emukit's
``forrester_low`` is the same function). A negative ``a`` turns the source
upside down: its minimum then sits near the target's maximum, the
anti-correlated case. The parameter ranges cover those used in the literature
(a in [0.2, 3], b in [-5, 15], c in [-5, 5]) and their mirror images (a down to
-3, b down to -15). The target's minimum, f = -6.02074 at x = 0.75725, is
certified numerically.
"""

from __future__ import annotations

import torch

from bo_transfer.problems.base import FunctionProblem
from bo_transfer.problems.families import Param, register_family


def forrester(X: torch.Tensor) -> torch.Tensor:
    x = X[..., 0]
    return (6 * x - 2) ** 2 * torch.sin(12 * x - 4)


@register_family(
    "forrester",
    params=[
        Param("a", float, 0.5, -3.0, 3.0, "scale of the target inside the source", knob=True),
        Param("b", float, 10.0, -15.0, 15.0, "linear trend added to the source"),
        Param("c", float, -5.0, -5.0, 5.0, "offset subtracted from the source"),
    ],
    summary="Forrester function; source = a*target + b*(x-0.5) - c (a<0: anti-correlated)",
    citation="Forrester, Sobester, Keane. Multi-fidelity Optimization via Surrogate Modelling. "
    "Proc. R. Soc. A 2007",
    bib_key="forrester2007multi,forrester2008engineering",
    examples=("forrester:a=0.5,b=10.0,c=-5.0", "forrester:a=-1.0,b=0.0,c=0.0"),
    # 2: the default source's constant is +5 as in the paper (c = -5); before it was -5.
    version="2",
)
def build_forrester_pair(a: float, b: float, c: float):
    def source(X: torch.Tensor) -> torch.Tensor:
        return a * forrester(X) + b * (X[..., 0] - 0.5) - c

    target = FunctionProblem(forrester, 1, "forrester")
    return target, [FunctionProblem(source, 1, f"forrester-source(a={a},b={b},c={c})")]
