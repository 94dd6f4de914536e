"""Counts L-BFGS-B iterations and evaluations of every GP fit (a benchmark aid).

BoTorch's ``fit_gpytorch_mll`` minimises through
``botorch.optim.core.minimize_with_timeout``; the acquisition optimiser does
not, so what is recorded here is GP fits only. Importing this module installs
the counter; ``FITS`` holds one ``(iterations, evaluations)`` per fit, in order.
"""

from __future__ import annotations

from botorch.optim import core

FITS: list[tuple[int, int]] = []


def _counting(original):
    def minimize(*args, **kwargs):
        result = original(*args, **kwargs)
        FITS.append((result.nit, result.nfev))
        return result

    minimize.counts_fits = True
    return minimize


if not getattr(core.minimize_with_timeout, "counts_fits", False):
    core.minimize_with_timeout = _counting(core.minimize_with_timeout)
