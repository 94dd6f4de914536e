"""The adversarial control: any registered pair with every source negated.

``negate:pair=<inner pair>`` keeps the inner pair's target and replaces each
source ``s`` by ``-s``, so every source's correlation with the target flips
sign and its optimum moves to the source's maximum. A transfer method that
helps on the inner pair and is robust should at worst be neutral here.

Naming: ``pair`` is the last parameter and takes the rest of the name, commas
included, e.g. ``negate:pair=gp:rho=0.9,dim=2``; the canonical name holds the
inner pair's canonical name. An inner pair with ``instance=seed``
(``negate:pair=gp:rho=0.9,instance=seed``) makes the negated pair seeded too:
seed s negates instance s.
"""

from __future__ import annotations

from bo_transfer.problems.base import NegatedProblem
from bo_transfer.problems.families import Param, register_family
from bo_transfer.problems.observed import ObservedSource
from bo_transfer.problems.pair import get_pair


@register_family(
    "negate",
    params=[Param("pair", "pair", "forrester", help="the inner pair (the rest of the name)")],
    summary="Any pair with every source negated (the adversarial control)",
    citation="(control; no single source)",
    examples=(
        "negate:pair=gp:rho=0.9,dim=2,lengthscale=0.2,instance=0",
        "negate:pair=branin:n_sources=1,sign=1,instance=0",
    ),
)
def build_negated_pair(pair: str):
    inner = get_pair(pair)
    return inner.target, [
        s.negated() if isinstance(s, ObservedSource) else NegatedProblem(s) for s in inner.sources
    ]
