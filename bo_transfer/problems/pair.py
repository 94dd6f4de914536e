"""Transfer pairs: a target, its sources and how source observations are made;
built from pair names by the family registry (:mod:`bo_transfer.problems.families`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import torch
from botorch.utils.datasets import SupervisedDataset
from scipy import stats
from torch import Tensor

from bo_transfer.errors import UserError
from bo_transfer.problems.base import Problem, optimum_distance, sobol
from bo_transfer.problems.families import FAMILIES, is_seeded, pair_instance, split_pair_name
from bo_transfer.problems.observed import ObservedSource
from bo_transfer.problems.trajectory import gp_ei_trajectory
from bo_transfer.seeding import derive_seed

DEFAULT_N_SOURCE = 32


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
