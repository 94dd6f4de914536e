"""Sweep specs (TOML): parsing, validation of the whole spec, expansion into runs.

Format (DESIGN.md contract)::

    name = "quickstart"
    seeds = 10                 # a count (seeds 0..9) or a list of seeds
    budget = 16                # target evaluations, initial design included
    n_init = 4
    n_source = 32              # optional: source points per source
    source_design = "sobol"    # optional: "sobol" or "trajectory" (a cold GP-EI run's points)
    source_noise = 0.0         # optional: source noise std, fraction of the source's range
    batch_seeds = 1            # optional: run blocks of this many seeds as one batched GP
    pairs = ["gp:rho=0.9,dim=2", "forrester"]
    methods = ["cold-gp", "prior-mean"]

``pairs`` items may also be tables ``{family = "gp", rho = [0.9, -0.9], dim = 2}``
(``[[pairs]]`` in TOML): list values expand to their product. ``methods`` items
may be tables ``{name = "prior-mean", label = "pm", <option> = <value>}``; the same
method twice with different options and no labels is labelled ``name[k=v,...]``.
``batch_seeds = S`` runs the seeds of methods that support it (``cold-gp``) in
blocks of S consecutive seeds as one batched model (see
:mod:`bo_transfer.sweep.batched`); other methods run one seed at a time.
``hpob_dir``, ``tables`` and ``preset`` locate real meta-data sets and apply
HPO-B's protocol (:mod:`bo_transfer.sweep.presets`).
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bo_transfer.errors import SpecError, UserError
from bo_transfer.methods.base import make_method
from bo_transfer.problems.pair import (
    DEFAULT_N_SOURCE,
    FAMILIES,
    SOURCE_DESIGNS,
    canonical_pair_name,
)
from bo_transfer.registry import closest
from bo_transfer.sweep.batched import assign_blocks
from bo_transfer.sweep.presets import DATA_KEYS, apply_data_keys
from bo_transfer.sweep.runner import RunSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOP_LEVEL_KEYS = (
    "name",
    "seeds",
    "budget",
    "n_init",
    "n_source",
    "source_design",
    "source_noise",
    "batch_seeds",
    "pairs",
    "methods",
    *DATA_KEYS,
)
REQUIRED_KEYS = ("seeds", "budget", "n_init", "pairs", "methods")


@dataclass(frozen=True)
class MethodEntry:
    name: str
    label: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: pairs x methods x seeds at one budget."""

    name: str
    seeds: tuple[int, ...]
    budget: int
    n_init: int
    pairs: tuple[str, ...]  # canonical names
    methods: tuple[MethodEntry, ...]
    n_source: int = DEFAULT_N_SOURCE
    source_design: str = "sobol"
    source_noise: float = 0.0
    batch_seeds: int = 1

    @classmethod
    def from_toml(cls, path: str | Path) -> Sweep:
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise UserError(f"spec file {str(path)!r} not found") from None
        except OSError as exc:
            raise UserError(f"cannot read spec {str(path)!r}: {exc.strerror}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"spec {str(path)!r} is not valid TOML: {exc}") from None
        return cls.from_dict(data, default_name=path.stem)

    @classmethod
    def from_dict(cls, data: dict[str, Any], default_name: str = "sweep") -> Sweep:
        """Validate everything, report every problem at once (a :class:`SpecError`)."""
        problems: list[str] = []
        data = apply_data_keys(data, problems)  # data locations first: pairs need them
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                near = closest(key, list(TOP_LEVEL_KEYS))
                hint = (
                    f"did you mean {near[0]!r}?" if near else f"valid: {', '.join(TOP_LEVEL_KEYS)}"
                )
                problems.append(f"unknown key {key!r}; {hint}")
        problems += [f"missing required key {k!r}" for k in REQUIRED_KEYS if k not in data]

        name = data.get("name", default_name)
        if not isinstance(name, str) or not name:
            problems.append(f"name: must be a non-empty string, got {name!r}")
        seeds = _seeds(data.get("seeds", 1), problems)
        budget = _positive_int(data, "budget", problems)
        n_init = _positive_int(data, "n_init", problems)
        n_source = _positive_int(data, "n_source", problems, default=DEFAULT_N_SOURCE)
        source_design, source_noise = _source_options(data, problems)
        batch_seeds = _positive_int(data, "batch_seeds", problems, default=1)
        if budget is not None and n_init is not None and n_init > budget:
            problems.append(f"n_init: {n_init} is larger than budget {budget}")
        pairs = _pairs(data.get("pairs", []), problems)
        methods = _methods(data.get("methods", []), problems)
        if problems:
            raise SpecError(problems)
        return cls(
            name,
            seeds,
            budget,
            n_init,
            pairs,
            methods,
            n_source,
            source_design,
            source_noise,
            batch_seeds or 1,
        )

    def runs(self) -> list[RunSpec]:
        """Every run of the sweep, in pair, method, seed order (with its seed
        block when ``batch_seeds`` > 1)."""
        runs = [
            RunSpec(
                pair,
                m.name,
                seed,
                self.budget,
                self.n_init,
                self.n_source,
                m.options,
                m.label,
                self.source_design,
                self.source_noise,
            )
            for pair, m, seed in itertools.product(self.pairs, self.methods, self.seeds)
        ]
        return assign_blocks(runs, self.batch_seeds)

    def to_json(self) -> str:
        # Source options and batching appear only when set, so specs written before they
        # existed keep their stored JSON (and their sweep directories).
        extra = {}
        if self.source_design != "sobol":
            extra["source_design"] = self.source_design
        if self.source_noise != 0.0:
            extra["source_noise"] = self.source_noise
        if self.batch_seeds != 1:
            extra["batch_seeds"] = self.batch_seeds
        return json.dumps(
            {
                **extra,
                "name": self.name,
                "seeds": list(self.seeds),
                "budget": self.budget,
                "n_init": self.n_init,
                "n_source": self.n_source,
                "pairs": list(self.pairs),
                "methods": [m.__dict__ for m in self.methods],
            },
            sort_keys=True,
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive_int(
    data: dict, key: str, problems: list[str], default: int | None = None
) -> int | None:
    v = data.get(key, default)
    if v is None:
        return None
    if not _is_int(v) or v < 1:
        problems.append(f"{key}: must be a positive integer, got {v!r}")
        return None
    return v


def _source_options(data: dict, problems: list[str]) -> tuple[str, float]:
    design = data.get("source_design", "sobol")
    if design not in SOURCE_DESIGNS:
        problems.append(
            f"source_design: must be one of {', '.join(SOURCE_DESIGNS)}, got {design!r}"
        )
        design = "sobol"
    noise = data.get("source_noise", 0.0)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < 1e6:
        problems.append(
            f"source_noise: must be a number >= 0 (a fraction of the range), got {noise!r}"
        )
        noise = 0.0
    return design, float(noise)


def _seeds(v: Any, problems: list[str]) -> tuple[int, ...]:
    if _is_int(v):
        if v < 1:
            problems.append(f"seeds: a count must be >= 1, got {v}")
        return tuple(range(max(v, 0)))
    if isinstance(v, list) and v and all(_is_int(s) and s >= 0 for s in v):
        if len(set(v)) != len(v):
            problems.append(f"seeds: duplicate seeds in {v}")
        return tuple(v)
    problems.append(
        f"seeds: must be a count or a non-empty list of non-negative integers, got {v!r}"
    )
    return ()


def _pairs(items: Any, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(items, list) or not items:
        problems.append("pairs: must be a non-empty list of pair names or tables")
        return ()
    names: list[str] = []
    for i, item in enumerate(items):
        where = f"pairs[{i}]"
        try:
            if isinstance(item, str):
                names.append(canonical_pair_name(item))
            elif isinstance(item, dict):
                names += _expand_pair_table(item, where)
            else:
                problems.append(f"{where}: expected a pair name or a table, got {item!r}")
        except UserError as exc:
            problems.append(f"{where}: {exc}")
    seen: set[str] = set()
    unique = [n for n in names if not (n in seen or seen.add(n))]
    return tuple(unique)


def _expand_pair_table(table: dict, where: str) -> list[str]:
    table = dict(table)
    family_name = table.pop("family", None)
    if not isinstance(family_name, str):
        raise UserError(f'{where}: a pair table needs family = "<name>"')
    family = FAMILIES.get(family_name)
    grid = {k: v if isinstance(v, list) else [v] for k, v in table.items()}
    for key, values in grid.items():
        if not values:
            raise UserError(f"{where}.{key}: empty list")
    names = []
    for combo in itertools.product(*grid.values()):
        names.append(family.canonical(dict(zip(grid, combo)), where=where)[0])
    return names


def _auto_label(name: str, options: dict[str, Any], repeated: bool) -> str:
    """The method's name, or ``name[k=v,...]`` when the same method appears
    more than once with different options."""
    if not repeated or not options:
        return name
    return f"{name}[{','.join(f'{k}={v}' for k, v in sorted(options.items()))}]"


def _methods(items: Any, problems: list[str]) -> tuple[MethodEntry, ...]:
    if not isinstance(items, list) or not items:
        problems.append("methods: must be a non-empty list of method names or tables")
        return ()
    entries: list[MethodEntry] = []
    names = [item.get("name") if isinstance(item, dict) else item for item in items]
    for i, item in enumerate(items):
        where = f"methods[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            problems.append(f'{where}: expected a method name or a table with name = "<method>"')
            continue
        options = {k: v for k, v in item.items() if k not in ("name", "label")}
        label = item.get("label", _auto_label(item["name"], options, names.count(item["name"]) > 1))
        if not isinstance(label, str) or not label:
            problems.append(f"{where}.label: must be a non-empty string, got {label!r}")
            continue
        try:
            make_method(item["name"], options)
        except UserError as exc:
            problems.append(f"{where}: {exc}")
            continue
        entries.append(MethodEntry(item["name"], label, options))
    labels = [e.label for e in entries]
    for dup in sorted({lab for lab in labels if labels.count(lab) > 1}):
        problems.append(f"methods: label {dup!r} is used twice; give each entry a distinct label")
    return tuple(entries)
