"""Pair families and the contract pair names ``family:key=value,...``: the
grammar of names and parameter values, and the family registry."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bo_transfer.errors import UserError
from bo_transfer.problems.base import Problem
from bo_transfer.registry import Registry, closest

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
    :func:`pair_instance`). ``knob`` marks the family's source-target
    correlation knob: pairs that differ only in knobs form a grid over the
    correlation (the report's break-even correlation,
    :mod:`bo_transfer.analysis.break_even`).
    """

    name: str
    kind: type | str
    default: ParamValue
    low: float | None = None
    high: float | None = None
    help: str = ""
    choices: tuple = ()
    by_seed: bool = False
    knob: bool = False

    def __post_init__(self) -> None:
        kinds = (int, float, str, "floats", "pair")
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"a parameter name must be an identifier, got {self.name!r}")
        if self.kind not in kinds:
            raise ValueError(
                f"parameter {self.name!r}: kind must be one of {kinds}, got {self.kind!r}"
            )
        if self.kind is str and not self.choices:
            raise ValueError(f"parameter {self.name!r}: a str parameter needs its choices")
        if self.kind != "pair":
            # The default must itself be a valid value (a family's canonical
            # names are built from it).
            self.parse(self.default, f"parameter {self.name!r} default")

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
    #: For families built from the user's files (tables, HPO-B): ``params`` ->
    #: a hash of the data the pair reads, part of its runs' identity.
    data_hash: Callable[[dict], str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or set(self.name) & {":", ","}:
            raise ValueError(
                f"a family name must be non-empty without ':' or ',', got {self.name!r}"
            )
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"family {self.name!r}: parameter names repeat: {names}")
        if any(p.kind == "pair" for p in self.params[:-1]):
            raise ValueError(f"family {self.name!r}: a pair-valued parameter must come last")
        if not callable(self.build):
            raise ValueError(f"family {self.name!r}: build must be callable")

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
    data_hash: Callable[[dict], str] | None = None,
) -> Callable:
    """Decorator registering a ``build(**params) -> (target, sources)`` function.

    ``version`` names the family's code revision (cached optima are keyed by
    it); ``check(params)`` validates combinations of parameters;
    ``data_hash(params)`` names the content of the files a pair reads (see
    :func:`pair_data`).
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
                data_hash,
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


def pair_data(name: str) -> str:
    """A hash of the user data (table file, HPO-B folder) the pair reads, ""
    for pairs defined by code alone. Runs of a pair on changed data get other
    run keys, and a results store refuses to hold both (a report would pool
    them in one row)."""
    family_name, values = split_pair_name(canonical_pair_name(name))
    family = FAMILIES.get(family_name)
    parts = []
    if family.data_hash is not None:
        full = {p.name: p.parse(values[p.name], f"pair {name!r}") for p in family.params}
        parts.append(family.data_hash(full))
    parts += [pair_data(values[p.name]) for p in family.params if p.kind == "pair"]
    return "+".join(part for part in parts if part)
