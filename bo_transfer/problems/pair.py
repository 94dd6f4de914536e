"""Transfer pairs, pair families and the contract pair names ``family:key=value,...``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import torch
from botorch.utils.datasets import SupervisedDataset
from scipy import stats

from bo_transfer.errors import UserError
from bo_transfer.problems.base import Problem, sobol
from bo_transfer.registry import Registry, closest
from bo_transfer.seeding import derive_seed

DEFAULT_N_SOURCE = 32


@dataclass(frozen=True)
class Param:
    """One parameter of a pair family, with its type, default and valid range."""

    name: str
    kind: type  # int or float
    default: int | float
    low: float | None = None
    high: float | None = None
    help: str = ""

    def parse(self, raw: Any, where: str) -> int | float:
        """Convert and range-check a raw value; raise a one-line UserError if invalid."""
        if isinstance(raw, bool):
            raise UserError(f"{where}: {self.name} must be a number, got {raw!r}")
        try:
            if self.kind is int:
                value: int | float = int(raw) if not isinstance(raw, float) else _exact_int(raw)
            else:
                value = float(raw)
        except (TypeError, ValueError):
            raise UserError(
                f"{where}: {self.name} must be {'an integer' if self.kind is int else 'a number'}, "
                f"got {raw!r}"
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{where}: {self.name} must be finite, got {raw!r}")
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise UserError(f"{where}: {self.name}={raw} is outside {self._range()}")
        return value

    def _range(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"[{lo}, {hi}]"


def _exact_int(x: float) -> int:
    if not x.is_integer():
        raise ValueError
    return int(x)


def format_value(value: int | float) -> str:
    """Canonical text of a parameter value: ``2``, ``-0.9``, ``10.0``."""
    return str(value) if isinstance(value, int) else repr(float(value))


@dataclass(frozen=True)
class PairFamily:
    """A parametrised family of transfer pairs.

    ``build(**params)`` returns ``(target, sources)``. ``examples`` are the
    canonical instances that ``bo-transfer list pairs`` shows.
    """

    name: str
    params: tuple[Param, ...]
    build: Callable[..., tuple[Problem, Sequence[Problem]]]
    summary: str
    citation: str
    examples: tuple[str, ...] = ()
    #: BibTeX keys in ``bo_transfer/references.bib`` (comma-separated).
    bib_key: str = ""

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = [p.name for p in self.params]
        near = closest(name, known)
        hint = f"did you mean {near[0]!r}?" if near else f"valid: {', '.join(known)}"
        raise UserError(f"pair family {self.name!r} has no parameter {name!r}; {hint}")

    def canonical(self, values: dict[str, Any], where: str = "pair") -> tuple[str, dict]:
        """Validate ``values`` (missing ones take defaults) and return the canonical name."""
        for key in values:
            self.param(key)
        full = {p.name: p.parse(values.get(p.name, p.default), where) for p in self.params}
        body = ",".join(f"{k}={format_value(v)}" for k, v in full.items())
        return f"{self.name}:{body}", full


FAMILIES: Registry[PairFamily] = Registry("pair family", group="bo_transfer.pairs")


def register_family(
    name: str,
    params: Sequence[Param],
    summary: str,
    citation: str,
    examples: Sequence[str] = (),
    bib_key: str = "",
) -> Callable:
    """Decorator registering a ``build(**params) -> (target, sources)`` function."""

    def decorator(build: Callable) -> Callable:
        FAMILIES.add(
            name,
            PairFamily(name, tuple(params), build, summary, citation, tuple(examples), bib_key),
        )
        return build

    return decorator


def split_pair_name(name: str) -> tuple[str, dict[str, str]]:
    """``"gp:rho=-0.9,dim=2"`` -> ``("gp", {"rho": "-0.9", "dim": "2"})``."""
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"pair name must be a non-empty string like 'gp:rho=0.9', got {name!r}")
    family, _, body = name.strip().partition(":")
    values: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in body.split(","))):
        key, eq, raw = item.partition("=")
        if not eq or not key.strip() or not raw.strip():
            raise UserError(f"pair {name!r}: expected key=value, got {item!r}")
        if key.strip() in values:
            raise UserError(f"pair {name!r}: parameter {key.strip()!r} given twice")
        values[key.strip()] = raw.strip()
    return family.strip(), values


def canonical_pair_name(name: str) -> str:
    """The canonical form of a pair name (all parameters, fixed order); validates it."""
    family_name, values = split_pair_name(name)
    return FAMILIES.get(family_name).canonical(values, where=f"pair {name!r}")[0]


@dataclass(frozen=True, eq=False)
class TransferPair:
    """A target problem, its source problems and how source observations are made."""

    name: str
    family: str
    target: Problem
    sources: tuple[Problem, ...]
    params: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.target.dim

    def source_data(self, seed: int, n_source: int = DEFAULT_N_SOURCE) -> list[SupervisedDataset]:
        """Noise-free observations of each source on ``n_source`` scrambled Sobol points.

        Deterministic per (pair, seed, source index): every method of a run with
        this seed sees the same source data.
        """
        datasets = []
        for k, source in enumerate(self.sources):
            X = sobol(n_source, self.dim, derive_seed("source-data", self.name, seed, k))
            with torch.no_grad():
                Y = source(X).unsqueeze(-1)
            datasets.append(
                SupervisedDataset(
                    X,
                    Y,
                    feature_names=[f"x{i}" for i in range(self.dim)],
                    outcome_names=[f"source{k}"],
                )
            )
        return datasets

    @cached_property
    def diagnostics(self) -> list[dict[str, float]]:
        """Per source: Pearson and Spearman correlation with the target on the
        shared Sobol reference set, and the Euclidean distance between the
        source's and the target's optima."""
        t = self.target.reference_values.numpy()
        x_t = torch.tensor(self.target.optimum.x)
        out = []
        for source in self.sources:
            s = source.reference_values.numpy()
            out.append(
                {
                    "pearson": float(stats.pearsonr(s, t).statistic),
                    "spearman": float(stats.spearmanr(s, t).statistic),
                    "optimum_distance": float(
                        torch.linalg.vector_norm(torch.tensor(source.optimum.x) - x_t)
                    ),
                }
            )
        return out


@lru_cache(maxsize=256)
def _build_pair(canonical: str) -> TransferPair:
    family_name, values = split_pair_name(canonical)
    family = FAMILIES.get(family_name)
    _, full = family.canonical(values)
    target, sources = family.build(**full)
    return TransferPair(canonical, family_name, target, tuple(sources), full)


def get_pair(name: str) -> TransferPair:
    """The pair for a (possibly abbreviated) contract name; cached per process."""
    return _build_pair(canonical_pair_name(name))
