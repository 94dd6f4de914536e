"""Early warning of negative transfer: how well alignment after a few target
evaluations predicts that a warm start ends worse than cold-gp.

The input is one row per run (``results/early-warning/alignment.csv``, see
``scripts/early_warning_alignment.py``): the run's method, its paired effect
against cold-gp on the same pair and seed (``effect``: difference in the area
under the log10-regret curve; > 0 is negative transfer), the oracle (the true
source-target correlation, ``pearson_mean``) and the alignment scores after
``n_init + o`` evaluations (``tau_mean_o``, ``cosine_worst_o``, ...).

Everything here is a small pure function over that table: ROC AUC with a
bootstrap interval (:func:`roc_table`), a logistic warning model per method
and checkpoint (:func:`fit_warning_models`), its calibration on held-out seeds
(:func:`heldout_calibration`), and the regret of "warm start only when
alignment >= t" (:func:`decision_curves`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

#: Methods that do not transfer: never scored as warm starts.
NOT_TRANSFER = ("cold-gp", "random")

#: Evaluations after the initial design at which alignment is scored.
OFFSETS = (0, 5, 10)

#: Alignment scores of the table (mean over sources, worst source).
SCORES = ("tau_mean", "tau_worst", "cosine_mean", "cosine_worst")

#: The oracle: the true source-target correlation (mean over sources), known
#: to the benchmark but never to a practitioner.
ORACLE = "pearson_mean"

#: The score the warning model uses (chosen by the study, results/README.md).
MODEL_SCORE = "cosine_mean"

#: guarded's default z (one-sided 10% test, :class:`~bo_transfer.methods.guarded.Guarded`).
GUARDED_Z = 1.2816


def roc_auc(score: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve of "low ``score`` warns of negative transfer":
    the probability that a run with negative transfer has a lower score than
    one without (ties count one half; Mann-Whitney). NaN without both kinds."""
    score, negative = np.asarray(score, float), np.asarray(negative, bool)
    return float(_aucs(score[None], negative[None])[0])


def _aucs(scores: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """:func:`roc_auc` of each row of `B x n` ``scores`` and ``negative``."""
    ranks = stats.rankdata(-scores, axis=1)
    n_pos = negative.sum(1)
    n_neg = negative.shape[1] - n_pos
    u = (ranks * negative).sum(1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def bootstrap_auc(
    score: np.ndarray, negative: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`roc_auc` over runs."""
    rng = np.random.default_rng(seed)
    score, negative = np.asarray(score, float), np.asarray(negative, bool)
    i = rng.integers(0, len(score), (n_boot, len(score)))
    lo, hi = np.nanquantile(_aucs(score[i], negative[i]), [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def null_auc_interval(
    negative: np.ndarray, n_draws: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Where the AUC of a score that carries no information (uniform noise)
    falls for these outcomes: the no-information baseline's 0.5 and its spread."""
    rng = np.random.default_rng(seed)
    negative = np.broadcast_to(np.asarray(negative, bool), (n_draws, len(negative)))
    draws = _aucs(rng.random(negative.shape), negative)
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def transfer_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of transfer methods, with ``negative`` (effect > 0)."""
    out = runs[~runs["method"].isin(NOT_TRANSFER)].copy()
    out["negative"] = out["effect"] > 0
    return out


def roc_table(runs: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """Per transfer method and offset: ROC AUC [95% bootstrap interval] of each
    alignment score after ``n_init + offset`` evaluations, of the oracle and of
    the no-information baseline (0.5, with the interval a noise score reaches).

    Columns: ``method, offset, predictor, n_runs, n_negative, auc, auc_lo, auc_hi``.
    """
    rows = []
    for method, group in transfer_runs(runs).groupby("method", sort=True):
        negative = group["negative"].to_numpy()
        base = {"method": method, "n_runs": len(group), "n_negative": int(negative.sum())}
        for offset in OFFSETS:
            predictors = {s: group[f"{s}_{offset}"] for s in SCORES}
            predictors["oracle"] = group[ORACLE]
            for name, score in predictors.items():
                ok = np.isfinite(score.to_numpy(float))
                s, neg = score.to_numpy(float)[ok], negative[ok]
                lo, hi = bootstrap_auc(s, neg, n_boot)
                rows.append(
                    {**base, "offset": offset, "predictor": name, "auc": roc_auc(s, neg)}
                    | {"auc_lo": lo, "auc_hi": hi}
                )
            lo, hi = null_auc_interval(negative, n_boot)
            rows.append(
                {**base, "offset": offset, "predictor": "no-information", "auc": 0.5}
                | {"auc_lo": lo, "auc_hi": hi}
            )
    columns = ["method", "offset", "predictor", "n_runs", "n_negative", "auc", "auc_lo", "auc_hi"]
    return pd.DataFrame(rows)[columns]


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1e-2) -> tuple[float, float]:
    """Intercept and slope of ``P(y) = 1 / (1 + exp(-(a + b x)))`` by Newton's
    method on the log-likelihood with a small ridge penalty (which keeps the
    fit finite when ``x`` separates the outcomes)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    A = np.column_stack([np.ones_like(x), x])
    w = np.zeros(2)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(A @ w)))
        grad = A.T @ (y - p) - ridge * w
        hess = (A * (p * (1 - p))[:, None]).T @ A + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def predict(intercept: float, slope: float, x: np.ndarray) -> np.ndarray:
    """The logistic model's probability at ``x``."""
    return 1 / (1 + np.exp(-(intercept + slope * np.asarray(x, float))))


def calibration_bins(p: np.ndarray, y: np.ndarray, n_bins: int = 5) -> list[dict[str, float]]:
    """Reliability table: runs in ``n_bins`` bins of equal count by predicted
    probability; per bin the mean prediction, the observed frequency and the count."""
    order = np.argsort(p, kind="stable")
    return [
        {"predicted": float(p[i].mean()), "observed": float(y[i].mean()), "n": int(len(i))}
        for i in np.array_split(order, n_bins)
        if len(i)
    ]


def heldout_calibration(
    runs: pd.DataFrame, score: str = MODEL_SCORE, n_bins: int = 5
) -> pd.DataFrame:
    """The warning model's calibration on seeds it was not fitted on: per
    method and offset, fitted on the even seeds and scored on the odd ones,
    then the other way round (every run is predicted once, out of sample).

    Columns: ``method, offset, n_runs, base_rate, brier, brier_base`` (Brier
    score of the held-out predictions and of predicting the training base rate),
    ``mean_predicted``, ``observed`` (calibration in the large), and ``bins``
    (:func:`calibration_bins` of the held-out predictions).
    """
    rows = []
    for method, group in transfer_runs(runs).groupby("method", sort=True):
        for offset in OFFSETS:
            g = group[np.isfinite(group[f"{score}_{offset}"])]
            p, base, y = _cross_fitted(g, f"{score}_{offset}")
            rows.append(
                {
                    "method": method,
                    "offset": offset,
                    "n_runs": len(g),
                    "base_rate": float(y.mean()),
                    "brier": float(np.mean((p - y) ** 2)),
                    "brier_base": float(np.mean((base - y) ** 2)),
                    "mean_predicted": float(p.mean()),
                    "observed": float(y.mean()),
                    "bins": calibration_bins(p, y, n_bins),
                }
            )
    return pd.DataFrame(rows)


def _cross_fitted(g: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out predictions of the model and of the base rate, by seed parity."""
    y = g["negative"].to_numpy(float)
    x = g[column].to_numpy(float)
    p, base = np.empty(len(g)), np.empty(len(g))
    odd = (g["seed"].to_numpy() % 2).astype(bool)
    for test in (odd, ~odd):
        a, b = fit_logistic(x[~test], y[~test])
        p[test] = predict(a, b, x[test])
        base[test] = y[~test].mean()
    return p, base, y


def fit_warning_models(runs: pd.DataFrame, score: str = MODEL_SCORE) -> dict:
    """Per transfer method and offset, the logistic model of "this seed's
    effect > 0" on ``score`` after ``n_init + offset`` evaluations, fitted on
    every run, with its held-out calibration (:func:`heldout_calibration`):
    the data file ``diagnose`` reads (``bo_transfer/data/early_warning.json``)."""
    calibration = heldout_calibration(runs, score).set_index(["method", "offset"])
    models: dict[str, dict[str, dict]] = {}
    for method, group in transfer_runs(runs).groupby("method", sort=True):
        for offset in OFFSETS:
            column = f"{score}_{offset}"
            g = group[np.isfinite(group[column])]
            a, b = fit_logistic(g[column], g["negative"])
            cal = calibration.loc[(method, offset)]
            models.setdefault(method, {})[str(offset)] = {
                "n_points": float(np.median(g[f"n_{offset}"])),
                "intercept": round(a, 6),
                "slope": round(b, 6),
                "n_runs": len(g),
                "base_rate": round(float(g["negative"].mean()), 6),
                "heldout_brier": round(float(cal["brier"]), 6),
                "heldout_brier_base": round(float(cal["brier_base"]), 6),
                "heldout_bins": [
                    {k: round(v, 6) if isinstance(v, float) else v for k, v in b_.items()}
                    for b_ in cal["bins"]
                ],
            }
    return {"score": score, "offsets": list(OFFSETS), "models": models}


def guarded_threshold(score: str, n: np.ndarray, z: float = GUARDED_Z) -> np.ndarray:
    """guarded's rule on ``score``'s scale at ``n`` points: keep a source whose
    rank correlation is at least ``z`` null standard deviations. For the cosine
    (a Pearson correlation, null sd about ``1/sqrt(n-1)``, as guarded uses for
    Spearman's rho) ``z / sqrt(n - 1)``; for Kendall's tau, whose null sd is
    ``sqrt(2 (2n + 5) / (9 n (n - 1)))`` (Kendall 1938), ``z`` times that."""
    n = np.asarray(n, float)
    if score.startswith("tau"):
        return z * np.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1)))
    return z / np.sqrt(n - 1)


def decision_curves(runs: pd.DataFrame, thresholds: np.ndarray | None = None) -> pd.DataFrame:
    """Regret of "warm start only when alignment >= t, else cold-gp".

    Per transfer method, offset and score, for each threshold ``t`` the mean
    over runs of the chosen run's AUC (log10 regret) minus the better of the
    two in hindsight (so 0 is a perfect warning). ``t = -inf`` is "always
    transfer", ``t = inf`` "never transfer"; the ``rule = "guarded"`` row
    applies guarded's threshold at each run's number of points
    (:func:`guarded_threshold`; ``threshold`` holds its median over the runs).
    A run whose score is undefined transfers.

    Columns: ``method, offset, score, rule, threshold, regret, transfer_rate``.
    """
    if thresholds is None:
        thresholds = np.round(np.arange(-1, 1.0001, 0.05), 2)
    rows = []
    for method, group in transfer_runs(runs).groupby("method", sort=True):
        auc, cold = group["auc"].to_numpy(), group["auc_cold"].to_numpy()
        best = np.minimum(auc, cold)
        for offset in OFFSETS:
            for score in SCORES:
                s = group[f"{score}_{offset}"].to_numpy(float)
                rules = [("always", -np.inf, np.full(len(s), -np.inf))]
                rules += [("threshold", t, np.full(len(s), t)) for t in thresholds]
                rules.append(("never", np.inf, np.full(len(s), np.inf)))
                n = group[f"n_{offset}"].to_numpy(float)
                cut = guarded_threshold(score, n)
                rules.append(("guarded", float(np.median(cut)), cut))
                for rule, t, cut in rules:
                    transfer = ~(s < cut)  # NaN scores transfer
                    chosen = np.where(transfer, auc, cold)
                    rows.append(
                        {
                            "method": method,
                            "offset": offset,
                            "score": score,
                            "rule": rule,
                            "threshold": t,
                            "regret": float(np.mean(chosen - best)),
                            "transfer_rate": float(transfer.mean()),
                        }
                    )
    return pd.DataFrame(rows)


def plot_calibration(calibration: pd.DataFrame) -> Figure:
    """Reliability diagrams of the held-out predictions (:func:`heldout_calibration`):
    one panel per method, one line per offset; on the diagonal, predicted
    probabilities come true as often as they say."""
    methods = sorted(calibration["method"].unique())
    cols = 4
    rows = math.ceil(len(methods) / cols)
    fig = Figure(figsize=(3 * cols, 2.8 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    colors = dict(zip(OFFSETS, ("tab:blue", "tab:orange", "tab:green")))
    for ax, method in zip(axes.flat, methods):
        ax.plot([0, 1], [0, 1], color="0.7", lw=1)
        for _, row in calibration[calibration["method"] == method].iterrows():
            bins = pd.DataFrame(row["bins"])
            ax.plot(
                bins["predicted"],
                bins["observed"],
                "o-",
                ms=3,
                color=colors[row["offset"]],
                label=f"n_init + {row['offset']}",
            )
        ax.set_title(method, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    for ax in axes.flat[len(methods) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("predicted P(worse than cold-gp)")
    for ax in axes[:, 0]:
        ax.set_ylabel("observed frequency")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    return fig


def plot_decision(curves: pd.DataFrame, score: str, offset: int) -> Figure:
    """Regret of "warm start only when ``score`` >= t" over t, per method, at
    ``offset`` evaluations after the initial design: the curve, always
    transferring (dotted), never (dashed) and guarded's threshold (a dot at
    its median over the runs' numbers of points)."""
    sel = curves[(curves["score"] == score) & (curves["offset"] == offset)]
    methods = sorted(sel["method"].unique())
    cols = 4
    rows = math.ceil(len(methods) / cols)
    fig = Figure(figsize=(3 * cols, 2.6 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    for ax, method in zip(axes.flat, methods):
        m = sel[sel["method"] == method]
        curve = m[m["rule"] == "threshold"]
        ax.plot(curve["threshold"], curve["regret"], color="tab:blue", lw=1.2)
        never = float(m.loc[m["rule"] == "never", "regret"].iloc[0])
        always = float(m.loc[m["rule"] == "always", "regret"].iloc[0])
        ax.axhline(never, color="tab:red", ls="--", lw=1, label="never transfer")
        ax.axhline(always, color="tab:green", ls=":", lw=1, label="always transfer")
        guarded = m[m["rule"] == "guarded"].iloc[0]
        ax.plot(guarded["threshold"], guarded["regret"], "ko", ms=4, label="guarded's threshold")
        ax.set_title(method, fontsize=9)
    for ax in axes.flat[len(methods) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(f"threshold t on {score} at n_init + {offset}")
    for ax in axes[:, 0]:
        ax.set_ylabel("regret (log10 AUC)")
    axes.flat[0].legend(fontsize=6, loc="upper left")
    return fig


def _ci(row: pd.Series) -> str:
    return f"{row['auc']:.2f} [{row['auc_lo']:.2f}, {row['auc_hi']:.2f}]"


def summary_tables(runs: pd.DataFrame, roc: pd.DataFrame, curves: pd.DataFrame) -> str:
    """The markdown tables results/README.md shows (a test checks they are
    these): ROC AUC per method and checkpoint, the decision analysis at
    n_init, the warning models' held-out calibration."""
    score = MODEL_SCORE
    t = transfer_runs(runs)
    rate = t.groupby("method")["negative"].mean()
    r = roc.set_index(["method", "offset", "predictor"])
    head = ["method", "negative transfer"]
    head += [f"{s} at n_init + {o}" for s in ("tau_mean", score) for o in OFFSETS]
    head += ["oracle", "no information"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method in sorted(rate.index):
        cells = [method, f"{rate[method]:.0%}"]
        cells += [_ci(r.loc[(method, o, s)]) for s in ("tau_mean", score) for o in OFFSETS]
        cells.append(_ci(r.loc[(method, 0, "oracle")]))
        null = r.loc[(method, 0, "no-information")]
        cells.append(f"0.5 [{null['auc_lo']:.2f}, {null['auc_hi']:.2f}]")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", _decision_table(curves, score, 0), "", _calibration_table(runs)]
    return "\n".join(lines)


def _decision_table(curves: pd.DataFrame, score: str, offset: int) -> str:
    sel = curves[(curves["score"] == score) & (curves["offset"] == offset)]
    head = ["method", "always", "never", "best t", "regret at best t", "guarded's t", "regret"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, m in sel.groupby("method", sort=True):
        by = m.set_index("rule")
        th = m[m["rule"] == "threshold"]
        best = th.loc[th["regret"].idxmin()]
        g = by.loc["guarded"]
        lines.append(
            f"| {method} | {by.loc['always', 'regret']:.3f} | {by.loc['never', 'regret']:.3f} "
            f"| {best['threshold']:.2f} | {best['regret']:.3f} | {g['threshold']:.2f} "
            f"| {g['regret']:.3f} |"
        )
    return "\n".join(lines)


def _calibration_table(runs: pd.DataFrame) -> str:
    cal = heldout_calibration(runs).set_index(["method", "offset"])
    head = ["method", *(f"Brier at n_init + {o} (base rate)" for o in OFFSETS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method in sorted(cal.index.get_level_values(0).unique()):
        cells = [
            f"{cal.loc[(method, o), 'brier']:.3f} ({cal.loc[(method, o), 'brier_base']:.3f})"
            for o in OFFSETS
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def headline_numbers(runs: pd.DataFrame, roc: pd.DataFrame, curves: pd.DataFrame) -> dict:
    """The numbers results/README.md quotes in its prose, as it prints them
    (a test checks each against the README)."""
    mean_auc = roc.groupby(["predictor", "offset"])["auc"].mean()
    multi = roc_table(runs[runs["study"] == "multisource"], n_boot=10)
    multi_auc = multi.groupby(["predictor", "offset"])["auc"].mean()
    t = transfer_runs(runs)
    cal = heldout_calibration(runs)
    first = cal[cal["offset"] == 0]
    out = {
        "runs": f"{len(runs):,}",
        "transfer_runs": f"{len(t):,}",
        "methods": str(t["method"].nunique()),
        "runs_per_method": str(t.groupby("method").size().iloc[0]),
        "clearly_calibrated": str(int((first["brier"] <= first["brier_base"] - 0.01).sum())),
        "multi_cosine_mean_0": f"{multi_auc[('cosine_mean', 0)]:.2f}",
        "multi_cosine_worst_0": f"{multi_auc[('cosine_worst', 0)]:.2f}",
        "multi_oracle": f"{multi_auc[('oracle', 0)]:.2f}",
    }
    for predictor in (*SCORES, "oracle"):
        for offset in OFFSETS:
            out[f"mean_{predictor}_{offset}"] = f"{mean_auc[(predictor, offset)]:.2f}"
    sel = curves[(curves["score"] == MODEL_SCORE) & (curves["offset"] == 0)]
    for method, m in sel.groupby("method"):
        by = m.set_index("rule")["regret"]
        th = m[m["rule"] == "threshold"]
        out[f"always_{method}"] = f"{by['always']:.3f}"
        out[f"never_{method}"] = f"{by['never']:.3f}"
        out[f"best_{method}"] = f"{th['regret'].min():.3f}"
        out[f"guarded_{method}"] = f"{by['guarded']:.3f}"
    guarded_t = sel[sel["rule"] == "guarded"]["threshold"]
    out["guarded_t"] = f"{guarded_t.iloc[0]:.2f}"
    return out
