"""User-built pairs: register your own callables or data as a pair family."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from bo_transfer.errors import UserError
from bo_transfer.problems.base import DTYPE, FunctionProblem, Problem, sobol
from bo_transfer.problems.families import FAMILIES, PairFamily
from bo_transfer.problems.observed import ObservedSource


def _as_problem(obj: Any, dim: int, name: str) -> Problem | ObservedSource:
    if isinstance(obj, (Problem, ObservedSource)):
        if obj.dim != dim:
            raise UserError(f"{name} has dim {obj.dim}, the target has dim {dim}")
        return obj
    if callable(obj):
        return FunctionProblem(obj, dim, name)
    raise UserError(f"{name} must be a Problem, an ObservedSource or a callable, got {obj!r}")


def _probe(problem: Problem | ObservedSource, name: str) -> None:
    """Call a user's function once on a few unit-cube points: the wrong shape or
    a non-finite value is a clear error here, not a failed run in a worker."""
    if isinstance(problem, ObservedSource):
        return
    X = sobol(4, problem.dim, seed=0)
    try:
        with torch.no_grad():
            values = problem.evaluate(X)
    except Exception as exc:
        raise UserError(
            f"register_pair({name!r}): {problem.name} fails on a 4 x {problem.dim} input: "
            f"{type(exc).__name__}: {exc}".splitlines()[0]
        ) from None
    shape = tuple(getattr(values, "shape", ()))
    if shape != (4,):
        raise UserError(
            f"register_pair({name!r}): {problem.name} must map a n x {problem.dim} tensor to "
            f"n values; got shape {shape} for n = 4"
        )
    if not torch.isfinite(torch.as_tensor(values, dtype=DTYPE)).all():
        raise UserError(
            f"register_pair({name!r}): {problem.name} returned non-finite values "
            f"{torch.as_tensor(values).tolist()} on its first call"
        )


def register_pair(
    name: str,
    target: Problem | Callable[[Tensor], Tensor],
    sources: Sequence[Problem | ObservedSource | Callable[[Tensor], Tensor]],
    dim: int | None = None,
    summary: str = "user-built pair",
    citation: str = "",
) -> str:
    """Register a pair built from your own callables or data, so sweeps can run it.

    A callable maps a `n x dim` unit-cube tensor to `n` values (minimised); a
    source may also be an :class:`ObservedSource` (e.g. from a CSV of past
    experiments). The pair is registered as a parameterless family ``name``;
    sweeps name it ``name``. Worker processes find it when the registering code
    runs on import: call this at the top level of a module (or of the script
    that calls :func:`bo_transfer.sweep.run_sweep` under ``if __name__ ==
    "__main__":``), or expose that module through the ``bo_transfer.pairs``
    entry-point group for the CLI.

    Returns:
        The pair name to put in a spec.
    """
    if ":" in name or "," in name or not name.strip():
        raise UserError(f"pair name {name!r} must be non-empty without ':' or ','")
    if dim is None:
        dim = target.dim if isinstance(target, Problem) else None
    if dim is None:
        raise UserError(f"register_pair({name!r}): give dim= when the target is a plain callable")
    if not sources:
        raise UserError(f"register_pair({name!r}): needs at least one source")

    def build() -> tuple[Problem, list]:
        t = _as_problem(target, dim, f"{name}-target")
        if isinstance(t, ObservedSource):
            raise UserError(f"register_pair({name!r}): the target must be evaluable")
        return t, [_as_problem(s, dim, f"{name}-source{k}") for k, s in enumerate(sources)]

    built_target, built_sources = build()
    for problem in [built_target, *built_sources]:
        _probe(problem, name)  # validate now, not in a worker
    FAMILIES.add(name, PairFamily(name, (), build, summary, citation, (name,), version=""))
    return name
