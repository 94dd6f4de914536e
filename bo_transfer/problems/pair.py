"""Transfer pairs, pair families and the contract pair names ``family:key=value,...``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import torch
from botorch.utils.datasets import SupervisedDataset
from scipy import stats
from torch import Tensor

from bo_transfer.errors import UserError
from bo_transfer.problems.base import DTYPE, FunctionProblem, Problem, optimum_distance, sobol
from bo_transfer.problems.observed import ObservedSource
from bo_transfer.problems.trajectory import gp_ei_trajectory
from bo_transfer.registry import Registry, closest
from bo_transfer.seeding import derive_seed

DEFAULT_N_SOURCE = 32


#: In a pair name, the values of a list parameter are separated by ';'
#: (``gp:rho=0.9;-0.9``), a character no number contains. A pair-valued
#: parameter (the ``negate`` family's ``pair``) comes last and takes the rest of
#: the name, commas included: ``negate:pair=gp:rho=0.9,dim=2`` (and nests:
#: ``negate:pair=negate:pair=forrester``). Names stay unambiguous and round-trip.
LIST_SEP = ";"

ParamValue = int | float | str | tuple[float, ...]

#: The value of an ``instance`` parameter that makes seed s use instance s
#: (DESIGN.md: the pair then stands for a distribution of landscapes).
SEED = "seed"


@dataclass(frozen=True)
class Param:
    """One parameter of a pair family, with its type, default and valid range.

    ``kind`` is ``int``, ``float``, ``str`` (one of ``choices``), ``"floats"``
    (a non-empty list of floats, ``;``-separated in names, each in
    [low, high]) or ``"pair"`` (another pair's name; stored canonical).
    ``by_seed`` lets the parameter also take the value ``seed`` (see
    :func:`pair_instance`).
    """

    name: str
    kind: type | str
    default: ParamValue
    low: float | None = None
    high: float | None = None
    help: str = ""
    choices: tuple = ()
    by_seed: bool = False

    def parse(self, raw: Any, where: str) -> ParamValue:
        """Convert and range-check a raw value; raise a one-line UserError if invalid."""
        if self.by_seed and isinstance(raw, str) and raw.strip() == SEED:
            return SEED
        if self.kind == "floats":
            items = raw.split(LIST_SEP) if isinstance(raw, str) else raw
            if not isinstance(items, (list, tuple)):
                items = [items]
            if not items:
                raise UserError(f"{where}: {self.name} needs at least one value")
            return tuple(self._number(v, float, where) for v in items)
        if self.kind == "pair":
            if not isinstance(raw, str):
                raise UserError(f"{where}: {self.name} must be a pair name, got {raw!r}")
            return canonical_pair_name(raw)
        if self.kind is str:
            if raw not in self.choices:
                near = closest(str(raw), [str(c) for c in self.choices])
                hint = f"did you mean {near[0]!r}?" if near else ""
                raise UserError(
                    f"{where}: {self.name}={raw!r} is not one of "
                    f"{', '.join(map(str, self.choices))}{'; ' + hint if hint else ''}"
                )
            return raw
        value = self._number(raw, self.kind, where)
        if self.choices and value not in self.choices:
            raise UserError(
                f"{where}: {self.name}={raw} is not one of {', '.join(map(str, self.choices))}"
            )
        return value

    def _number(self, raw: Any, kind: type, where: str) -> int | float:
        if isinstance(raw, bool):
            raise UserError(f"{where}: {self.name} must be a number, got {raw!r}")
        try:
            if kind is int:
                value: int | float = int(raw) if not isinstance(raw, float) else _exact_int(raw)
            else:
                value = float(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError):
            what = "an integer" if kind is int else "a number"
            raise UserError(
                f"{where}: {self.name} must be {what}{f' or {SEED!r}' if self.by_seed else ''}, "
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


def format_value(value: ParamValue) -> str:
    """Canonical text of a parameter value: ``2``, ``-0.9``, ``10.0``, ``0.9;-0.9``."""
    if isinstance(value, tuple):
        return LIST_SEP.join(repr(float(v)) for v in value)
    if isinstance(value, str):
        return value
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
    # Bump when the family's functions change (invalidates cached optima); ""
    # disables the disk cache (user-built pairs: their code changes unannounced).
    version: str = "1"
    check: Callable[[dict], None] | None = None  # cross-parameter validation, raises UserError
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
        if self.check is not None:
            try:
                self.check(full)
            except UserError as exc:
                raise UserError(f"{where}: {exc}") from None
        if not full:
            return self.name, full
        body = ",".join(f"{k}={format_value(v)}" for k, v in full.items())
        return f"{self.name}:{body}", full


FAMILIES: Registry[PairFamily] = Registry("pair family", group="bo_transfer.pairs")


def register_family(
    name: str,
    params: Sequence[Param],
    summary: str,
    citation: str,
    examples: Sequence[str] = (),
    version: str = "1",
    check: Callable[[dict], None] | None = None,
    bib_key: str = "",
) -> Callable:
    """Decorator registering a ``build(**params) -> (target, sources)`` function.

    ``version`` names the family's code revision (cached optima are keyed by
    it); ``check(params)`` validates combinations of parameters.
    """

    def decorator(build: Callable) -> Callable:
        FAMILIES.add(
            name,
            PairFamily(
                name,
                tuple(params),
                build,
                summary,
                citation,
                tuple(examples),
                version,
                check,
                bib_key,
            ),
        )
        return build

    return decorator


def split_pair_name(name: str) -> tuple[str, dict[str, str]]:
    """``"gp:rho=-0.9,dim=2"`` -> ``("gp", {"rho": "-0.9", "dim": "2"})``.

    A family's trailing pair-valued parameter takes the rest of the name.
    """
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"pair name must be a non-empty string like 'gp:rho=0.9', got {name!r}")
    family, _, body = name.strip().partition(":")
    family = family.strip()
    params = FAMILIES.get(family).params if family in FAMILIES else ()
    rest_key = params[-1].name if params and params[-1].kind == "pair" else None
    values: dict[str, str] = {}
    items = body.split(",")
    for i, item in enumerate(items):
        if not item.strip():
            continue
        key, eq, raw = item.partition("=")
        if key.strip() == rest_key and eq:
            raw = ",".join([raw, *items[i + 1 :]])  # a nested pair name keeps its commas
        if not eq or not key.strip() or not raw.strip():
            raise UserError(f"pair {name!r}: expected key=value, got {item.strip()!r}")
        if key.strip() in values:
            raise UserError(f"pair {name!r}: parameter {key.strip()!r} given twice")
        values[key.strip()] = raw.strip()
        if key.strip() == rest_key:
            break
    return family, values


def canonical_pair_name(name: str) -> str:
    """The canonical form of a pair name (all parameters, fixed order); validates it."""
    family_name, values = split_pair_name(name)
    return FAMILIES.get(family_name).canonical(values, where=f"pair {name!r}")[0]


def pair_instance(name: str, seed: int) -> str:
    """The canonical name of the concrete pair a run with ``seed`` uses.

    Every ``instance=seed`` in ``name`` (a nested pair's included) becomes
    ``instance=<seed>``, so each method's run with seed s meets the same
    instance s and paired tests still pair; any other name is returned
    canonical and unchanged.
    """
    family_name, values = split_pair_name(canonical_pair_name(name))
    family = FAMILIES.get(family_name)
    for p in family.params:
        if p.by_seed and values.get(p.name) == SEED:
            values[p.name] = str(seed)
        elif p.kind == "pair" and p.name in values:
            values[p.name] = pair_instance(values[p.name], seed)
    return family.canonical(values, where=f"pair {name!r}")[0]


def is_seeded(name: str) -> bool:
    """Whether ``name`` draws its instance from the run's seed (``instance=seed``)."""
    return pair_instance(name, 0) != canonical_pair_name(name)


SOURCE_DESIGNS = ("sobol", "trajectory")


@dataclass(frozen=True, eq=False)
class TransferPair:
    """A target problem, its sources and how source observations are made.

    A source is a :class:`Problem` (observations are made on demand) or an
    :class:`ObservedSource` (a fixed table of past experiments, used as is).
    """

    name: str
    family: str
    target: Problem
    sources: tuple[Problem | ObservedSource, ...]
    params: dict = field(default_factory=dict)
    _trajectories: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def dim(self) -> int:
        return self.target.dim

    def source_data(
        self,
        seed: int,
        n_source: int = DEFAULT_N_SOURCE,
        design: str = "sobol",
        noise: float = 0.0,
    ) -> list[SupervisedDataset]:
        """Observations of each source, deterministic per (pair, seed, source index).

        Args:
            seed: the run's seed; every method of a run with this seed sees the
                same source data.
            n_source: points per source.
            design: ``"sobol"``, scrambled Sobol points; or ``"trajectory"``,
                the points a cold GP-EI run on the source visits (what an
                earlier campaign really leaves behind; see
                :mod:`bo_transfer.problems.trajectory`), cached per process.
            noise: Gaussian observation noise, its standard deviation a fraction
                of the source's value range on the reference set (0.1 = 10 %),
                so one setting means the same across pairs of any scale.

        An :class:`ObservedSource` contributes its own table whatever the options
        (with ``subsample``, at most ``n_source`` of its points, drawn per seed).
        """
        if design not in SOURCE_DESIGNS:
            raise UserError(
                f"source_design must be one of {', '.join(SOURCE_DESIGNS)}, got {design!r}"
            )
        if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
            raise UserError(f"source_noise must be a finite number >= 0, got {noise!r}")
        datasets = []
        for k, source in enumerate(self.sources):
            if isinstance(source, ObservedSource):
                X, y = source.observations(
                    n_source, derive_seed("source-subsample", self.name, seed, k)
                )
                Y = y.unsqueeze(-1)
            else:
                X, Y = self._observe(source, k, seed, n_source, design, float(noise))
            datasets.append(
                SupervisedDataset(
                    X,
                    Y,
                    feature_names=[f"x{i}" for i in range(self.dim)],
                    outcome_names=[f"source{k}"],
                )
            )
        return datasets

    def _observe(
        self, source: Problem, k: int, seed: int, n: int, design: str, noise: float
    ) -> tuple[Tensor, Tensor]:
        noise_std = noise * source.value_range
        if design == "trajectory":
            key = (k, seed, n, noise_std)
            if key not in self._trajectories:
                self._trajectories[key] = gp_ei_trajectory(
                    source, n, noise_std, derive_seed("source-trajectory", self.name, seed, k)
                )
            return self._trajectories[key]
        X = sobol(n, self.dim, derive_seed("source-data", self.name, seed, k))
        with torch.no_grad():
            Y = source(X).unsqueeze(-1)
        if noise_std > 0:
            gen = torch.Generator().manual_seed(derive_seed("source-noise", self.name, seed, k))
            Y = Y + noise_std * torch.randn(Y.shape, generator=gen, dtype=Y.dtype)
        return X, Y

    @cached_property
    def diagnostics(self) -> list[dict[str, float]]:
        """Per source: Pearson and Spearman correlation with the target on the
        shared Sobol reference set, and the Euclidean distance between the
        source's and the target's optima (between their nearest minimisers when
        either has several, see :func:`~bo_transfer.problems.base.optimum_distance`).
        For an observed source: the same, measured on its observed points, with
        its best observed point as optimum."""
        out = []
        for source in self.sources:
            if isinstance(source, ObservedSource):
                with torch.no_grad():
                    t = self.target(source.X).numpy()
                s = source.y.numpy()
            else:
                t, s = self.target.reference_values.numpy(), source.reference_values.numpy()
            out.append(
                {
                    "pearson": float(stats.pearsonr(s, t).statistic),
                    "spearman": float(stats.spearmanr(s, t).statistic),
                    "optimum_distance": optimum_distance(source.optimum, self.target.optimum),
                }
            )
        return out


@lru_cache(maxsize=256)
def _build_pair(canonical: str) -> TransferPair:
    family_name, values = split_pair_name(canonical)
    family = FAMILIES.get(family_name)
    _, full = family.canonical(values)
    target, sources = family.build(**full)
    for role, problem in [("target", target), *((f"source{k}", s) for k, s in enumerate(sources))]:
        # A problem shared with another pair (negate's target) keeps its first key.
        if isinstance(problem, Problem) and problem.cache_key is None and family.version:
            problem.cache_key = f"{canonical}#{role}@{family.name}-v{family.version}"
    return TransferPair(canonical, family_name, target, tuple(sources), full)


def get_pair(name: str, seed: int | None = None) -> TransferPair:
    """The pair for a (possibly abbreviated) contract name; cached per process.

    A name with ``instance=seed`` stands for one instance per seed: ``seed``
    picks it (:func:`pair_instance`), and without a seed it is instance 0, the
    one ``bo-transfer show`` draws. The pair returned is the concrete one: its
    ``name`` holds the instance.
    """
    return _build_pair(pair_instance(name, 0 if seed is None else seed))


#: The seeds whose instances summarise a seeded pair where no sweep says which
#: were used (``bo-transfer list pairs`` and ``show``): a 10-seed sweep's.
PREVIEW_SEEDS = tuple(range(10))

DIAGNOSTICS = ("pearson", "spearman", "optimum_distance")


def instance_diagnostics(name: str, seeds: Sequence[int] = PREVIEW_SEEDS) -> list[dict[str, Any]]:
    """Per source, each diagnostic's median, ``_min`` and ``_max`` over the
    instances that ``seeds`` draw, and ``instances`` (e.g. ``"0-9"``).

    A pair without ``instance=seed`` has one instance: its own diagnostics
    (min = median = max) and ``instances`` empty.
    """
    seeded = is_seeded(name)
    used = sorted({pair_instance(name, s) for s in seeds}) if seeded else [name]
    per_instance = [get_pair(n).diagnostics for n in used]
    label = _seed_range(seeds) if seeded else ""
    out = []
    for k in range(len(per_instance[0])):
        row: dict[str, Any] = {"instances": label}
        for d in DIAGNOSTICS:
            values = [diags[k][d] for diags in per_instance]
            row[d] = float(np.median(values))
            row[f"{d}_min"], row[f"{d}_max"] = min(values), max(values)
        out.append(row)
    return out


def _seed_range(seeds: Sequence[int]) -> str:
    seeds = sorted(seeds)
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1:
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


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
