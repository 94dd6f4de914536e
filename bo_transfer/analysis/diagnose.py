"""``bo-transfer diagnose``: before committing a budget, how aligned is each
source with the target, and how likely is each warm start to end worse than
cold-gp?

Given a few target evaluations (a pair's initial design, or a user's table),
each source's alignment (Kendall's tau and the cosine of the standardized
vectors, :mod:`bo_transfer.methods.alignment`) gets a 95% bootstrap interval
over the target points, and each transfer method's probability of ending worse
than cold-gp comes from the logistic model fitted on the reference studies
(``bo_transfer/data/early_warning.json``, written by
``scripts/early_warning.py``), shown with that model's calibration on held-out
seeds. The model was fitted on the studies' pairs (GP samples, classic test
functions, one tabulated tuning task, budgets 20-30): outside such settings
its probabilities are extrapolations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from botorch.utils.datasets import SupervisedDataset

from bo_transfer.analysis.early_warning import predict
from bo_transfer.errors import UserError
from bo_transfer.methods.alignment import MIN_POINTS, SCORES, alignment_scores, source_posteriors
from bo_transfer.problems.base import DTYPE

#: Bootstrap resamples of the target points behind each interval.
N_BOOT = 1000

#: Evaluations of a pair's initial design ``diagnose PAIR`` scores by default.
DEFAULT_EVALUATIONS = 10


def warning_models() -> dict[str, Any]:
    """The fitted warning models (``bo_transfer/data/early_warning.json``)."""
    text = resources.files("bo_transfer").joinpath("data/early_warning.json").read_text()
    return json.loads(text)


@dataclass
class Diagnosis:
    """What :func:`diagnose` found.

    Attributes:
        n_points: target evaluations scored.
        sources: per source, ``tau``, ``cosine`` and their 95% bootstrap
            intervals (``tau_lo``, ``tau_hi``, ...), None where undefined.
        score: the score the warning models use (e.g. ``cosine_mean``), with
            its value and interval.
        methods: per transfer method, ``p_worse`` (probability of ending worse
            than cold-gp) and its value at the score's interval ends
            (``p_lo``, ``p_hi``), and the model's ``n_points``, ``n_runs``,
            held-out Brier score and the Brier score of its base rate.
        title: what was diagnosed, for the printed header.
    """

    n_points: int
    sources: list[dict[str, Any]]
    score: dict[str, Any]
    methods: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""

    def text(self) -> str:
        """The printed report: a source table and a method table."""
        lines = [self.title] if self.title else []
        lines.append(f"{self.n_points} target evaluations; alignment [95% bootstrap interval]:")
        rows = [
            [str(s["source"]), _interval(s, "tau"), _interval(s, "cosine")] for s in self.sources
        ]
        lines += _table(["source", "kendall tau", "cosine"], rows)
        score = self.score
        lines.append(
            f"P(ends worse than cold-gp): per method, a logistic fit on {score['name']} "
            f"(here {_interval(score, 'value')}) after ~{score['n_points']:g} evaluations"
        )
        lines.append(
            "in the reference studies' runs; calibration: its Brier score on held-out seeds "
            "vs the base rate's (lower is better)"
        )
        rows = [
            [
                m["method"],
                f"{m['p_worse']:.2f} [{m['p_lo']:.2f}, {m['p_hi']:.2f}]",
                f"{m['heldout_brier']:.3f} vs {m['heldout_brier_base']:.3f}",
                str(m["n_runs"]),
            ]
            for m in self.methods
        ]
        lines += _table(["method", "P(worse) [at interval ends]", "held-out Brier", "runs"], rows)
        return "\n".join(lines)


def _interval(row: dict[str, Any], key: str) -> str:
    value, lo, hi = row[key], row[f"{key}_lo"], row[f"{key}_hi"]
    if value is None:
        return "undefined"
    bounds = "" if lo is None else f" [{lo:.2f}, {hi:.2f}]"
    return f"{value:.2f}{bounds}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]


def diagnose(
    sources: list[SupervisedDataset],
    X: torch.Tensor,
    y: torch.Tensor,
    seed: int = 0,
    names: list[str] | None = None,
) -> Diagnosis:
    """Alignment of each source with the target values ``y`` (`n`, minimised)
    observed at ``X`` (`n x d`, unit cube), with intervals, and each transfer
    method's probability of ending worse than cold-gp. ``names`` name the
    sources (default: their positions); ``seed`` seeds the bootstrap.

    Raises:
        UserError: fewer than :data:`MIN_POINTS` target points, non-finite
            or all-equal values, no sources or sources of another input
            dimension, or sources whose models all predict a constant.
    """
    X, y = torch.as_tensor(X, dtype=DTYPE), torch.as_tensor(y, dtype=DTYPE)
    if len(y) < MIN_POINTS:
        raise UserError(f"{len(y)} target evaluation(s): alignment needs at least {MIN_POINTS}")
    if not (torch.isfinite(X).all() and torch.isfinite(y).all()):
        raise UserError("the target evaluations hold NaN or infinite values; drop those rows")
    if X.ndim != 2 or len(X) != len(y) or any(d.X.shape[-1] != X.shape[-1] for d in sources):
        raise UserError(
            f"target inputs of shape {tuple(X.shape)} do not match {len(y)} values and "
            f"sources of {[d.X.shape[-1] for d in sources]} inputs"
        )
    if not sources:
        raise UserError("no source data: diagnose compares sources with the target")
    if float(y.max() - y.min()) == 0:
        raise UserError("the target values are all equal: no ranking to compare sources with")
    posteriors, _ = source_posteriors(sources)
    with torch.no_grad():
        predicted = -posteriors.means(X).numpy()
    t = y.numpy()
    point = alignment_scores(predicted, t)
    rng = np.random.default_rng(seed)
    draws = [
        alignment_scores(predicted[i], t[i])
        for i in (rng.integers(0, len(t), len(t)) for _ in range(N_BOOT))
    ]
    rows = []
    for k in range(predicted.shape[1]):
        row: dict[str, Any] = {"source": names[k] if names else k}
        for s in SCORES:
            row[s] = point[s][k]
            row[f"{s}_lo"], row[f"{s}_hi"] = _percentiles([d[s][k] for d in draws])
        rows.append(row)
    models = warning_models()
    name = models["score"]
    score = {"name": name, "value": _summary(name, point)}
    if score["value"] is None:
        raise UserError("every source model predicts a constant here: alignment is undefined")
    score["value_lo"], score["value_hi"] = _percentiles([_summary(name, d) for d in draws])
    offset = min(
        models["offsets"],
        key=lambda o: abs(next(iter(models["models"].values()))[str(o)]["n_points"] - len(t)),
    )
    score["n_points"] = next(iter(models["models"].values()))[str(offset)]["n_points"]
    methods = []
    for method, per_offset in models["models"].items():
        m = per_offset[str(offset)]
        value = score["value"]
        # Too few distinct points for an interval: the point estimate alone.
        lo = score["value_lo"] if score["value_lo"] is not None else value
        hi = score["value_hi"] if score["value_hi"] is not None else value
        p = [float(predict(m["intercept"], m["slope"], v)) for v in (value, lo, hi)]
        methods.append(
            {
                "method": method,
                "p_worse": p[0],
                "p_lo": min(p[1:]),
                "p_hi": max(p[1:]),
                **{k: m[k] for k in ("n_points", "n_runs", "heldout_brier", "heldout_brier_base")},
            }
        )
    methods.sort(key=lambda m: m["p_worse"])
    return Diagnosis(len(t), rows, score, methods)


def _summary(name: str, scores: dict[str, Any]) -> float | None:
    """A score over sources (``cosine_mean``: the mean, ``..._worst``: the lowest)."""
    score, how = name.rsplit("_", 1)
    values = [v for v in scores[score] if v is not None]
    if not values:
        return None
    return float(np.mean(values) if how == "mean" else np.min(values))


def _percentiles(values: list[float | None]) -> tuple[float | None, float | None]:
    finite = [v for v in values if v is not None]
    if len(finite) < len(values) / 2:  # most resamples degenerate: no interval
        return None, None
    lo, hi = np.quantile(finite, [0.025, 0.975])
    return float(lo), float(hi)


def diagnose_pair(
    name: str, evaluations: int = DEFAULT_EVALUATIONS, seed: int = 0, n_source: int | None = None
) -> Diagnosis:
    """:func:`diagnose` on a pair: its source data and the first
    ``evaluations`` points of the initial design a run with ``seed`` starts
    from (what every method of that run evaluates first), evaluated on the
    target."""
    from bo_transfer.problems.pair import DEFAULT_N_SOURCE
    from bo_transfer.sweep.runner import RunLoop, RunResult, RunSpec

    if evaluations < MIN_POINTS:
        raise UserError(f"--evaluations {evaluations}: alignment needs at least {MIN_POINTS}")
    n_source = DEFAULT_N_SOURCE if n_source is None else n_source
    if n_source < MIN_POINTS:
        raise UserError(f"--n-source {n_source}: a source model needs at least {MIN_POINTS}")
    spec = RunSpec(name, "cold-gp", seed, evaluations, evaluations, n_source)
    loop = RunLoop(spec, RunResult(spec, status="failed"), trace_alignment=False)
    loop.start()
    pair = loop.pair
    diagnosis = diagnose(pair.source_data(seed, n_source), loop.X, loop.y, seed)
    diagnosis.title = (
        f"{pair.name}: the first {evaluations} points of seed {seed}'s initial design, "
        f"{len(pair.sources)} source(s) of {n_source} points"
    )
    return diagnosis


def read_tables(
    sources_csv: str | Path, target_csv: str | Path
) -> tuple[list, torch.Tensor, torch.Tensor, list[str]]:
    """A user's source table and target evaluations as :func:`diagnose` takes
    them: the source data sets, the target's `n x d` inputs and `n` values,
    and the sources' names.

    Both CSV files have one row per evaluation: the input columns (any names,
    numbers) and ``y`` (the value, minimised); the source table may have a
    ``source`` column naming the source of each row (else it is one source).
    Inputs are scaled to the unit cube by each column's range over both files.

    Raises:
        UserError: a file that cannot be read, a missing ``y`` or input
            column, a non-numeric or missing value, or fewer than
            :data:`MIN_POINTS` rows in the target or a source.
    """
    src, tgt = _read_csv(sources_csv), _read_csv(target_csv)
    inputs = [c for c in tgt.columns if c != "y"]
    for frame, path, extra in ((src, sources_csv, {"source"}), (tgt, target_csv, set())):
        if "y" not in frame:
            raise UserError(f"{str(path)!r} has no column 'y' (the values, minimised)")
        missing = [c for c in inputs if c not in frame]
        unknown = [c for c in frame.columns if c not in {*inputs, "y", *extra}]
        if missing or unknown:
            raise UserError(
                f"{str(path)!r}: input columns {sorted(frame.columns)} do not match the "
                f"target's {inputs} (missing {missing}, unexpected {unknown})"
            )
    if not inputs:
        raise UserError(f"{str(target_csv)!r} has no input column besides 'y'")
    for frame, path in ((src, sources_csv), (tgt, target_csv)):
        for c in [*inputs, "y"]:
            values = pd.to_numeric(frame[c], errors="coerce")
            bad = values.isna() | ~np.isfinite(values.fillna(0))
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # the header is line 1
                raise UserError(
                    f"{str(path)!r} line {row}, column {c!r}: {frame[c].iloc[row - 2]!r} "
                    "is not a finite number"
                )
            frame[c] = values.astype(float)
    if len(tgt) < MIN_POINTS:
        raise UserError(
            f"{str(target_csv)!r} has {len(tgt)} evaluation(s); alignment needs at least "
            f"{MIN_POINTS}"
        )
    groups = src.groupby("source", sort=False) if "source" in src else [("0", src)]
    both = pd.concat([src[inputs], tgt[inputs]])
    low, span = both.min(), (both.max() - both.min()).replace(0, 1)
    sources = []
    for name, rows in groups:
        if len(rows) < MIN_POINTS:
            raise UserError(
                f"{str(sources_csv)!r}: source {name!r} has {len(rows)} row(s); a source "
                f"model needs at least {MIN_POINTS}"
            )
        X = torch.tensor(((rows[inputs] - low) / span).to_numpy(), dtype=DTYPE)
        y = torch.tensor(rows["y"].to_numpy(), dtype=DTYPE).unsqueeze(-1)
        sources.append(SupervisedDataset(X, y, feature_names=inputs, outcome_names=["y"]))
    X = torch.tensor(((tgt[inputs] - low) / span).to_numpy(), dtype=DTYPE)
    names = [str(name) for name, _ in groups]
    return sources, X, torch.tensor(tgt["y"].to_numpy(), dtype=DTYPE), names


def _read_csv(path: str | Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {str(path)!r}: {str(exc).splitlines()[0]}") from None
