"""How: cold-start baselines, warm-start methods and the method registry."""

from bo_transfer.methods import baselines, init_transfer, prior_mean  # noqa: F401  (register)
from bo_transfer.methods.base import (
    METHODS,
    Method,
    make_method,
    method_options,
    register_method,
    source_arrays,
)

__all__ = ["METHODS", "Method", "make_method", "method_options", "register_method", "source_arrays"]
