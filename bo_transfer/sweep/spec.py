"""Sweep specs (TOML): parsing, validation of the whole spec, expansion into runs.

Format (DESIGN.md contract)::

    name = "quickstart"
    seeds = 10                 # a count (seeds 0..9) or a list of seeds
    budget = 16                # target evaluations, initial design included
    n_init = 4
    n_source = 32              # optional: source points per source
    source_design = "sobol"    # optional: "sobol" or "trajectory" (a cold GP-EI run's points)
    source_noise = 0.0         # optional: source noise std, fraction of the source's range
    batch_seeds = 8            # optional: run blocks of up to this many seeds as one batched model
    device = "cpu"             # optional: where seed blocks run ("cpu" or "cuda")
    pairs = ["gp:rho=0.9,dim=2", "forrester"]
    methods = ["cold-gp", "prior-mean"]

``pairs`` items may also be tables ``{family = "gp", rho = [0.9, -0.9], dim = 2}``
(``[[pairs]]`` in TOML): list values expand to their product. ``methods`` items
may be tables ``{name = "prior-mean", label = "pm", <option> = <value>}``; the same
method twice with different options and no labels is labelled ``name[k=v,...]``.
``batch_seeds`` and ``device`` say how runs are executed, not what they
compute (:mod:`bo_transfer.sweep.plan`): they are not part of the spec's
identity (:meth:`Sweep.to_json`) nor of any run's key. ``hpob_dir``,
``tables`` and ``preset`` locate real meta-data sets and apply HPO-B's
protocol (:mod:`bo_transfer.sweep.presets`).

:class:`Sweep` validates itself on construction, from a TOML file, a dict or
Python, and reports every problem at once (:class:`SpecError`).
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
from bo_transfer.methods.registry import METHODS
from bo_transfer.problems.families import FAMILIES, canonical_pair_name, pair_data
from bo_transfer.problems.pair import DEFAULT_N_SOURCE, SOURCE_DESIGNS
from bo_transfer.registry import closest
from bo_transfer.sweep.plan import DEVICES
from bo_transfer.sweep.presets import DATA_KEYS, apply_data_keys
from bo_transfer.sweep.runner import RunSpec, default_label, key_label

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
    "device",
    "pairs",
    "methods",
    *DATA_KEYS,
)
REQUIRED_KEYS = ("seeds", "budget", "n_init", "pairs", "methods")

#: Seeds of a batched method run as one block unless the spec or
#: ``--batch-seeds`` says otherwise. Batching changes no number (a run computes
#: the same alone or in a block, tested bit for bit per method) and a
#: study-shaped sweep took 0.27x the wall time of sequential runs at 8
#: (benchmarks/perf/RESULTS.md), so it is on by default; 1 turns it off.
DEFAULT_BATCH_SEEDS = 8

#: Upper limits that keep a spec's size and its stored numbers sane: a seed is
#: stored as a 64-bit SQLite integer, and one run's budget or source size
#: beyond these would run for days (exact GPs cost O(n^3) per iteration).
#: README ("Sweep specs") lists them.
MAX_SEED = 2**63 - 1
MAX_SEEDS = 100_000
MAX_BUDGET = 10_000
MAX_N_SOURCE = 100_000
MAX_BATCH_SEEDS = 4096
#: Runs in one spec (pairs x methods x seeds).
MAX_RUNS = 1_000_000
#: Bytes (UTF-8) in a spec's name, which names its default folder
#: ``runs/<name>``: the longest file name common file systems allow.
MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class MethodEntry:
    name: str
    label: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: pairs x methods x seeds at one budget.

    Construction validates every field (pair names are made canonical, each
    method is instantiated once with its options) and raises a
    :class:`SpecError` listing every problem.
    """

    name: str
    seeds: tuple[int, ...]
    budget: int
    n_init: int
    pairs: tuple[str, ...]  # canonical names
    methods: tuple[MethodEntry, ...]
    n_source: int = DEFAULT_N_SOURCE
    source_design: str = "sobol"
    source_noise: float = 0.0
    batch_seeds: int = DEFAULT_BATCH_SEEDS
    device: str = "cpu"

    def __post_init__(self) -> None:
        # Plugins first: a broken one (BO_TRANSFER_PLUGINS) is one error, not
        # one per pair and method entry.
        for registry in (FAMILIES, METHODS):
            registry.names()
        problems: list[str] = []
        _check_name(self.name, problems)
        seeds = _seed_list(self.seeds, problems)
        for key, most in (
            ("budget", MAX_BUDGET),
            ("n_init", MAX_BUDGET),
            ("n_source", MAX_N_SOURCE),
            ("batch_seeds", MAX_BATCH_SEEDS),
        ):
            _check_positive_int(key, getattr(self, key), problems, most)
        budget, n_init = self.budget, self.n_init
        if _is_int(budget) and _is_int(n_init) and 0 < budget < n_init:
            problems.append(f"n_init: {n_init} is larger than budget {budget}")
        _check_source_options(self.source_design, self.source_noise, problems)
        if self.device not in DEVICES:
            problems.append(f"device: must be one of {', '.join(DEVICES)}, got {self.device!r}")
        pairs = _pairs(list(self.pairs), problems)
        methods = _methods(list(self.methods), problems)
        n_runs = len(pairs) * len(methods) * len(seeds)
        if n_runs > MAX_RUNS:
            problems.append(f"the spec has {n_runs:,} runs, above the limit of {MAX_RUNS:,}")
        if problems:
            raise SpecError(problems)
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "pairs", pairs)
        object.__setattr__(self, "methods", methods)
        object.__setattr__(self, "source_noise", float(self.source_noise))

    @classmethod
    def from_toml(cls, path: str | Path) -> Sweep:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserError(f"spec file {str(path)!r} not found") from None
        except OSError as exc:
            raise UserError(f"cannot read spec {str(path)!r}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise UserError(
                f"spec {str(path)!r} is not UTF-8 text, as TOML must be "
                f"(byte {exc.object[exc.start]:#04x} at position {exc.start})"
            ) from None
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
        for key in ("pairs", "methods"):
            if key in data and (not isinstance(data[key], list) or not data[key]):
                problems.append(f"{key}: must be a non-empty list of names or tables")
        fields = {k: data[k] for k in TOP_LEVEL_KEYS if k in data and k not in DATA_KEYS}
        fields.setdefault("name", default_name)
        fields["seeds"] = data.get("seeds", 1)
        for key in REQUIRED_KEYS:
            fields.setdefault(key, [] if key in ("pairs", "methods") else 0)
        if not isinstance(fields["pairs"], list):
            fields["pairs"] = []
        if not isinstance(fields["methods"], list):
            fields["methods"] = []
        try:
            sweep = cls(**fields)
        except SpecError as exc:
            # Missing keys, and pairs or methods already found empty, are
            # reported once, not again as invalid values; a pair of a table
            # that failed to load is not also an unknown pair family.
            said = {k for k in REQUIRED_KEYS if k not in data} | {
                p.split(":")[0] for p in problems if p.split(":")[0] in ("pairs", "methods")
            }
            failed_tables = any(p.startswith("tables") for p in problems)
            problems += [
                p
                for p in exc.problems
                if p.split(":")[0] not in said
                and not (failed_tables and "unknown pair family" in p)
            ]
            raise SpecError(problems) from None
        if problems:
            raise SpecError(problems)
        return sweep

    def runs(self) -> list[RunSpec]:
        """Every run of the sweep, in pair, method, seed order."""
        data = {pair: pair_data(pair) for pair in self.pairs}
        return [
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
                data[pair],
            )
            for pair, m, seed in itertools.product(self.pairs, self.methods, self.seeds)
        ]

    def to_json(self) -> str:
        """The spec's identity: what its runs compute (not how they are executed)."""
        # Source options appear only when set, so specs written before they
        # existed keep their stored JSON (and their sweep directories).
        extra = {}
        if self.source_design != "sobol":
            extra["source_design"] = self.source_design
        if self.source_noise != 0.0:
            extra["source_noise"] = self.source_noise
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


def _check_name(name: Any, problems: list[str]) -> None:
    """The name must be a single, safe folder name (it names ``runs/<name>``)."""
    if not isinstance(name, str) or not name:
        problems.append(f"name: must be a non-empty string, got {name!r}")
    elif "/" in name or "\\" in name or name in (".", ".."):
        problems.append(
            f"name: must be a plain folder name (no '/', '\\', '.' or '..'; it names "
            f"runs/<name>), got {name!r}"
        )
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        problems.append(f"name: must not contain control characters (newline, tab), got {name!r}")
    elif len(name.encode("utf-8")) > MAX_NAME_BYTES:
        problems.append(
            f"name: {len(name.encode('utf-8'))} bytes long, longer than a folder name may be "
            f"({MAX_NAME_BYTES})"
        )


def _check_positive_int(key: str, v: Any, problems: list[str], most: int) -> None:
    if not _is_int(v) or v < 1:
        problems.append(f"{key}: must be a positive integer, got {v!r}")
    elif v > most:
        problems.append(f"{key}: {v} is above the limit of {most:,}")


def _check_source_options(design: Any, noise: Any, problems: list[str]) -> None:
    if design not in SOURCE_DESIGNS:
        problems.append(
            f"source_design: must be one of {', '.join(SOURCE_DESIGNS)}, got {design!r}"
        )
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < 1e6:
        problems.append(
            f"source_noise: must be a number >= 0 (a fraction of the range), got {noise!r}"
        )


def _seed_list(v: Any, problems: list[str]) -> tuple[int, ...]:
    if _is_int(v):
        if v < 1:
            problems.append(f"seeds: a count must be >= 1, got {v}")
        elif v > MAX_SEEDS:
            problems.append(f"seeds: {v:,} seeds are above the limit of {MAX_SEEDS:,}")
            return ()
        return tuple(range(max(v, 0)))
    if isinstance(v, (list, tuple)) and v and all(_is_int(s) and s >= 0 for s in v):
        if len(set(v)) != len(v):
            problems.append(f"seeds: duplicate seeds in {list(v)}")
        if len(v) > MAX_SEEDS:
            problems.append(f"seeds: {len(v):,} seeds are above the limit of {MAX_SEEDS:,}")
        big = [s for s in v if s > MAX_SEED]
        if big:
            problems.append(f"seeds: {big[0]} is above the largest seed, 2**63 - 1")
        return tuple(v)
    problems.append(
        f"seeds: must be a count or a non-empty list of non-negative integers, got {v!r}"
    )
    return ()


def _pairs(items: list, problems: list[str]) -> tuple[str, ...]:
    if not items:
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
            # A pair table's errors already name where they are.
            text = str(exc)
            problems.append(text if text.startswith(f"{where}") else f"{where}: {text}")
    seen: set[str] = set()
    unique = [n for n in names if not (n in seen or seen.add(n))]
    return tuple(unique)


def _expand_pair_table(table: dict, where: str) -> list[str]:
    table = dict(table)
    family_name = table.pop("family", None)
    if not isinstance(family_name, str):
        near = [k for k in table if closest(k, ["family"])]
        hint = f"; did you mean 'family' for {near[0]!r}?" if near else ""
        raise UserError(f'{where}: a pair table needs family = "<name>"{hint}')
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
    return default_label(name, options) if repeated else name


def _methods(items: list, problems: list[str]) -> tuple[MethodEntry, ...]:
    if not items:
        problems.append("methods: must be a non-empty list of method names or tables")
        return ()
    entries: list[MethodEntry] = []
    items = [
        {"name": i.name, "label": i.label, **i.options} if isinstance(i, MethodEntry) else i
        for i in items
    ]
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
    # Distinct labels can still share run keys when both are labels the spec
    # derives by itself (e.g. "pm" and "pm[a=1]" for the same options).
    seen: dict[str, str] = {}
    for e in entries:
        identity = json.dumps([e.name, e.options, key_label(e.name, e.options, e.label)])
        if identity in seen and seen[identity] != e.label:
            problems.append(
                f"methods: {seen[identity]!r} and {e.label!r} are the same method and options "
                f"and would share stored results; give one a label of its own"
            )
        seen.setdefault(identity, e.label)
    return tuple(entries)
