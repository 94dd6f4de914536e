"""The early-warning study: its statistics, its committed data, its warning
models' calibration on held-out seeds, and the numbers results/README.md quotes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bo_transfer.analysis.diagnose import warning_models
from bo_transfer.analysis.early_warning import (
    NOT_TRANSFER,
    OFFSETS,
    decision_curves,
    fit_logistic,
    fit_warning_models,
    headline_numbers,
    heldout_calibration,
    roc_auc,
    roc_table,
    summary_tables,
)

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "results" / "early-warning"


def test_roc_auc_is_the_probability_a_negative_transfer_scores_lower():
    score = np.array([0.1, 0.2, 0.3, 0.4])
    assert roc_auc(score, np.array([1, 1, 0, 0])) == 1.0
    assert roc_auc(score, np.array([0, 0, 1, 1])) == 0.0
    # one of the four (positive, negative) pairs is misordered, one tied
    assert roc_auc(np.array([0.1, 0.3, 0.3, 0.2]), np.array([1, 1, 0, 0])) == pytest.approx(
        (2 + 0.5) / 4
    )


def test_the_logistic_fit_recovers_its_coefficients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20000)
    y = rng.random(20000) < 1 / (1 + np.exp(-(0.5 - 2 * x)))
    a, b = fit_logistic(x, y)
    assert a == pytest.approx(0.5, abs=0.06) and b == pytest.approx(-2, abs=0.1)


def _toy_runs() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 40
    align = rng.uniform(-1, 1, n)
    effect = -align + rng.normal(0, 0.3, n)
    row = {"auc_cold": np.zeros(n), "auc": effect, "effect": effect, "pearson_mean": align}
    for o in OFFSETS:
        row[f"n_{o}"] = np.full(n, 5 + o)
        for s in ("tau_mean", "tau_worst", "cosine_mean", "cosine_worst"):
            row[f"{s}_{o}"] = align + rng.normal(0, 0.1, n)
    return pd.DataFrame(row).assign(method="prior-mean", seed=np.arange(n) % 10)


def test_always_and_never_transferring_are_the_ends_of_the_decision_curve():
    runs = _toy_runs()
    curves = decision_curves(runs).set_index(["offset", "score", "rule"])
    best = np.minimum(runs["auc"], 0)
    always = curves.loc[(0, "tau_mean", "always"), "regret"]
    never = curves.loc[(0, "tau_mean", "never"), "regret"]
    assert always == pytest.approx(np.mean(runs["auc"] - best))
    assert never == pytest.approx(np.mean(0 - best))
    # an informative score beats both at some threshold
    assert curves.loc[(0, "tau_mean", "threshold"), "regret"].min() < min(always, never)


def test_the_roc_table_has_every_predictor_and_an_informative_score_is_above_chance():
    table = roc_table(_toy_runs(), n_boot=200)
    assert set(table["predictor"]) == {
        "tau_mean",
        "tau_worst",
        "cosine_mean",
        "cosine_worst",
        "oracle",
        "no-information",
    }
    oracle = table[table["predictor"] == "oracle"].iloc[0]
    assert oracle["auc_lo"] > 0.5 and oracle["auc_lo"] <= oracle["auc"] <= oracle["auc_hi"]


# The committed study.


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    return pd.read_csv(STUDY / "alignment.csv")


@pytest.fixture(scope="module")
def study(runs):
    roc, curves = roc_table(runs), decision_curves(runs)
    return roc, curves, headline_numbers(runs, roc, curves)


def test_the_study_covers_every_run_of_the_three_reference_studies(runs):
    for study in ("correlation", "multisource", "literature"):
        export = pd.read_parquet(ROOT / "results" / study / "results.parquet")
        n_runs = export[["pair", "method", "seed"]].drop_duplicates().shape[0]
        assert (runs["study"] == study).sum() == n_runs
    assert runs[[f"tau_mean_{o}" for o in OFFSETS]].notna().all().all()


def test_warning_models_are_calibrated_on_held_out_seeds(runs):
    """Fitted on even seeds and scored on odd ones (and back), every method's
    predicted probability of negative transfer comes true as often as it says:
    on average within 0.05, and in each fifth of the predictions within three
    binomial standard errors (plus 0.05 for the fit's own noise)."""
    calibration = heldout_calibration(runs)
    for _, row in calibration.iterrows():
        where = f"{row['method']} at n_init + {row['offset']}"
        assert abs(row["mean_predicted"] - row["observed"]) <= 0.05, where
        for b in row["bins"]:
            p = min(max(b["predicted"], 0.05), 0.95)
            tolerance = 3 * np.sqrt(p * (1 - p) / b["n"]) + 0.05
            assert abs(b["predicted"] - b["observed"]) <= tolerance, (where, b)
        assert row["brier"] <= row["brier_base"] * 1.03, where


def test_the_packaged_warning_models_are_the_fit_on_the_committed_study(runs):
    assert warning_models()["models"] == fit_warning_models(runs)["models"]
    assert set(warning_models()["models"]) == set(runs["method"]) - set(NOT_TRANSFER)


def test_the_committed_tables_are_what_the_study_script_computes(runs, study):
    roc = pd.read_csv(STUDY / "roc.csv")
    fresh, curves, _ = study
    assert np.allclose(roc["auc"], fresh["auc"], rtol=1e-3)
    assert np.allclose(roc["auc_lo"], fresh["auc_lo"], rtol=1e-3)
    decision = pd.read_csv(STUDY / "decision.csv")
    assert np.allclose(decision["regret"], curves["regret"], rtol=1e-3, atol=1e-6)
    calibration = pd.read_csv(STUDY / "calibration.csv")
    assert np.allclose(calibration["brier"], heldout_calibration(runs)["brier"], rtol=1e-3)
    assert json.loads(calibration["bins"].iloc[0])[0].keys() == {"predicted", "observed", "n"}


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_readme_tables_are_recomputed_from_the_committed_data(runs, study):
    roc, curves, _ = study
    readme = (ROOT / "results" / "README.md").read_text()
    tables = summary_tables(runs, roc, curves)
    for table in tables.split("\n\n"):
        assert table in readme
    assert (STUDY / "tables.md").read_text().strip() == tables


def test_every_number_in_the_readme_prose_is_recomputed_from_the_committed_data(runs, study):
    roc, curves, n = study
    readme = _flat((ROOT / "results" / "README.md").read_text())
    r = roc.set_index(["method", "offset", "predictor"])["auc"]
    claims = [
        f"studies ({n['runs']} runs; {n['transfer_runs']} of them by the {n['methods']} "
        f"transfer methods, {n['runs_per_method']} per method)",
        f"cosine_mean reaches an AUC of {n['mean_cosine_mean_0']} after the initial design",
        f"it reaches {n['mean_cosine_mean_5']}, against the oracle's {n['mean_oracle_0']}. "
        f"Five more add nothing ({n['mean_cosine_mean_10']})",
        f"passes the oracle's ({r[('shgp', 5, 'cosine_mean')]:.2f} against "
        f"{r[('shgp', 0, 'oracle')]:.2f})",
        f"{n['mean_cosine_mean_0']} against tau's {n['mean_tau_mean_0']} at n_init",
        f"level ({n['mean_cosine_mean_5']} and {n['mean_tau_mean_5']})",
        f"({n['mean_cosine_worst_0']} and {n['mean_cosine_worst_5']} for cosine_worst)",
        f"cosine_mean has {n['multi_cosine_mean_0']} at n_init, cosine_worst "
        f"{n['multi_cosine_worst_0']}, and the oracle {n['multi_oracle']}",
        f"Its median over the runs, {n['guarded_t']}, is the value shown",
        f"regret from {n['always_prior-mean']} (always) and {n['never_prior-mean']} (never) "
        f"to {n['best_prior-mean']}",
        f"shgp's from {n['always_shgp']} to {n['best_shgp']}",
        f"mhgp's from {n['always_mhgp']} to {n['best_mhgp']}",
        f"init-transfer's from {n['always_init-transfer']} to {n['best_init-transfer']}",
        f"always transferring ({n['always_mtgp']}) is the best rule on the curve and never "
        f"transferring costs {n['never_mtgp']}",
        f"only from {n['always_taf']} to {n['best_taf']}",
        f"rgpe gains little ({n['always_rgpe']} to {n['best_rgpe']})",
        f"never transferring ({n['never_pooled-gp']}) is the best rule",
        f"({n['best_bounding-box']} at t = 0.90, against {n['never_bounding-box']} never and "
        f"{n['always_bounding-box']} always)",
        f"prior-mean {n['guarded_prior-mean']} against {n['best_prior-mean']}, shgp "
        f"{n['guarded_shgp']} against {n['best_shgp']}",
        f"mtgp it is {n['guarded_mtgp']} against {n['always_mtgp']}",
        f"for {n['clearly_calibrated']} of the {n['methods']} methods at n_init",
    ]
    for claim in claims:
        assert claim in readme, claim
    # The prose's qualitative claims, on the same numbers.
    cosine = r.xs("cosine_mean", level="predictor")
    strong = ["shgp", "mhgp", "pooled-gp", "bounding-box", "init-transfer", "prior-mean"]
    assert cosine.loc[strong].min() >= 0.655 and cosine.loc[strong].max() < 0.785
    assert cosine.loc["pibo"].min() >= 0.635 and cosine.loc["pibo"].max() < 0.675
    low = [
        r[(m, o, p)] for m in ("mtgp", "taf") for o in OFFSETS for p in ("tau_mean", "cosine_mean")
    ] + [r[(m, 0, "oracle")] for m in ("mtgp", "taf")]
    assert min(low) >= 0.525 and max(low) < 0.595
    guarded = [r[("guarded", o, p)] for o in OFFSETS for p in ("tau_mean", "cosine_mean")]
    assert min(guarded) >= 0.515 and max(guarded) < 0.585
    sel = curves[(curves["score"] == "cosine_mean") & (curves["offset"] == 0)]
    for method, m in sel.groupby("method"):
        best = m[m["rule"] == "threshold"]["regret"].min()
        assert m[m["rule"] == "guarded"]["regret"].iloc[0] > best, method
    bests = sel[sel["rule"] == "threshold"].sort_values("regret").groupby("method").first()
    for method in ("prior-mean", "shgp", "mhgp", "init-transfer"):
        assert -0.55 <= bests.loc[method, "threshold"] <= -0.35
    cal = heldout_calibration(runs)
    first = cal[cal["offset"] == 0].set_index("method")
    assert set(first.index[first["brier"] > first["brier_base"] - 0.01]) == {
        "mtgp",
        "taf",
        "guarded",
        "rgpe",
    }


def test_the_committed_alignment_is_what_a_run_records(runs):
    """One committed run re-scored the way the runner's trace scores it
    (:func:`~bo_transfer.methods.alignment.alignment_at` on its first points)
    gives the committed numbers: the post-hoc study measured the trace."""
    import torch

    from bo_transfer.methods.alignment import alignment_at
    from bo_transfer.problems.pair import get_pair

    export = pd.read_parquet(ROOT / "results" / "multisource" / "results.parquet")
    row = runs[(runs["study"] == "multisource") & (runs["method"] == "prior-mean")].iloc[7]
    run = export[
        (export["pair"] == row["pair"])
        & (export["method"] == "prior-mean")
        & (export["seed"] == row["seed"])
    ].sort_values("iteration")
    X = torch.tensor([json.loads(x) for x in run["x"]], dtype=torch.float64)
    y = torch.tensor(run["y"].to_numpy())
    sources = get_pair(row["pair_instance"]).source_data(int(row["seed"]), 32)
    for o in OFFSETS:
        n = int(row["n_init"]) + o
        scores = alignment_at(sources, X[:n], y[:n])
        assert row[f"tau_mean_{o}"] == pytest.approx(np.mean(scores["tau"]), abs=1e-5)
        assert row[f"cosine_worst_{o}"] == pytest.approx(min(scores["cosine"]), abs=1e-5)
