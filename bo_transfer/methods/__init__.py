"""How: cold-start baselines, warm-start methods and the method registry."""

from bo_transfer.methods import (  # noqa: F401  (register)
    baselines,
    bounding_box,
    guarded,
    hierarchical,
    init_transfer,
    mtgp,
    pibo,
    pooled_gp,
    prior_mean,
    rgpe,
    taf,
)
from bo_transfer.methods.base import (
    METHODS,
    Method,
    make_method,
    method_options,
    register_method,
    source_arrays,
    standardize,
    unit_cube,
)

__all__ = [
    "METHODS",
    "Method",
    "make_method",
    "method_options",
    "register_method",
    "source_arrays",
    "standardize",
    "unit_cube",
]
