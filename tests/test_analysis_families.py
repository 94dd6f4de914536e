"""Verdict families, corrections, untestable cells, direction, zeros, failed
runs and the verdict per method (issue 23), checked on the committed exports
and by null simulations that vectorize the tests over replicates."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bo_transfer import columns as C
from bo_transfer.analysis import load_results, run_metrics
from bo_transfer.analysis.method_level import (
    method_verdicts,
    poi_interval,
    probability_of_improvement,
)
from bo_transfer.analysis.report import detectable_note
from bo_transfer.analysis.signed_rank import (
    _two_sided_from_null,
    doubled_midranks,
    stratified_signed_rank,
    ties_to_zero,
)
from bo_transfer.analysis.stats import (
    adjust,
    benjamini_hochberg,
    charge_failures,
    family_verdicts,
    paired_differences,
    verdicts,
    verdicts_from_runs,
)

RESULTS = Path(__file__).resolve().parents[1] / "results"
LEGACY = Path(__file__).resolve().parent / "data" / "legacy_verdicts"
STUDIES = ("correlation", "multisource", "literature")


@pytest.fixture(scope="module")
def exports() -> dict[str, pd.DataFrame]:
    return {s: load_results(RESULTS / s / "results.parquet") for s in STUDIES}


def per_run_frame(base: np.ndarray, others: dict[str, np.ndarray], pair: str = "p") -> pd.DataFrame:
    rows = [
        {C.PAIR: pair, C.METHOD: m, C.SEED: s, "auc": v}
        for m, values in {"cold-gp": base, **others}.items()
        for s, v in enumerate(values)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("study", STUDIES)
def test_family_table_reproduces_the_committed_verdicts_and_p(exports, study):
    """Done means 1: the p-values and verdicts of the tables committed before
    per-setting families (kept in tests/data/legacy_verdicts), exactly."""
    legacy = pd.read_csv(LEGACY / f"{study}.csv")
    legacy = legacy[legacy["verdict"] != "baseline"].set_index([C.PAIR, C.METHOD])
    now = verdicts(exports[study], family="table").set_index([C.PAIR, C.METHOD])
    now = now.loc[legacy.index]
    assert (now["verdict"] == legacy["verdict"]).all()
    np.testing.assert_array_equal(now["p_value"].to_numpy(), legacy["p_value"].to_numpy())


@pytest.mark.parametrize(
    ("study", "expected"),
    [
        ("correlation", {"positive": 4, "negative": 30, "equivalent": 7}),
        ("multisource", {"positive": 2, "negative": 9, "equivalent": 0}),
        ("literature", {"positive": 29, "negative": 18, "equivalent": 0}),
    ],
)
def test_default_family_reaches_verdicts_on_the_committed_exports(exports, study, expected):
    """Done means 2: per-setting Holm at 10-20 seeds reaches verdicts where
    the whole-table family reached none (correlation, multisource)."""
    counts = verdicts(exports[study])["verdict"].value_counts()
    assert {v: int(counts.get(v, 0)) for v in expected} == expected
    assert "untestable" not in counts


def _null_rates(p: np.ndarray, n_paired: int, alpha: float = 0.05) -> np.ndarray:
    """Per family (second-to-last axis... last axis = cells): the share of
    replicates (first axis) with any positive or negative verdict."""
    ones = np.ones_like(p)
    _, _, verdict = family_verdicts(p, ones, ones, np.full(p.shape, n_paired), alpha)
    return np.isin(verdict, ["positive", "negative"]).any(axis=-1).mean(axis=0)


def test_sign_flips_give_at_most_alpha_false_verdicts_per_setting(exports):
    """Done means 3: flip the sign of every committed difference of the
    correlation study at random (4000 replicates): every setting's rate of
    any false verdict <= 0.06, the mean <= 0.05; without the correction the
    mean is far above."""
    df = exports["correlation"]
    diffs = paired_differences(run_metrics(df), "cold-gp", "auc")
    rng = np.random.default_rng(0)
    rates, uncorrected = [], []
    for _, setting in diffs.groupby(C.PAIR, sort=True):
        p = []
        for _, cell in setting.groupby(C.METHOD, sort=True):
            d = ties_to_zero(cell["diff"].to_numpy())
            d = d[d != 0]
            ranks = doubled_midranks(np.abs(d))
            positive = rng.random((4000, len(d))) < 0.5
            p.append(_two_sided_from_null(ranks, 200)[positive.astype(int) @ ranks])
        p = np.stack(p, axis=-1)
        rates.append(_null_rates(p, 10))
        uncorrected.append((p < 0.05).any(axis=-1).mean())
    assert max(rates) <= 0.06 and np.mean(rates) <= 0.05
    assert np.mean(uncorrected) > 0.2


def test_methods_permuted_within_pair_and_seed_give_at_most_alpha():
    """Done means 3: 13 exchangeable methods (one the baseline) on 18
    settings at 10 seeds, their labels permuted within each pair and seed
    (4000 replicates): the mean rate of any false verdict per setting <= 0.05
    with Holm per setting, far above without it."""
    rng = np.random.default_rng(1)
    b, s, m, n = 4000, 18, 13, 10
    values = rng.normal(size=(s, m, n)) + rng.normal(size=(s, 1, n))  # setting x seed effects
    order = np.argsort(rng.random((b, s, m, n)), axis=2)
    permuted = np.take_along_axis(np.broadcast_to(values, (b, s, m, n)), order, axis=2)
    d = permuted[:, :, 1:] - permuted[:, :, :1]
    ranks = np.argsort(np.argsort(np.abs(d), axis=-1), axis=-1) + 1
    t = (ranks * (d > 0)).sum(axis=-1)
    p = _two_sided_from_null(np.arange(1, n + 1), 200)[t]
    rates = _null_rates(p, n)
    assert np.mean(rates) <= 0.05
    assert (p < 0.05).any(axis=-1).mean() > 0.2


def test_untestable_cells_and_what_a_twelve_test_family_needs():
    """Done means 4: 5 seeds cannot reach 0.05 (smallest p 0.0625):
    untestable; 8 seeds all better in a 12-test family: no verdict (2^-7 x 12
    > 0.05) and the caption says why; 9 seeds: 2^-8 x 12 < 0.05, verdicts."""
    rng = np.random.default_rng(2)
    five = per_run_frame(rng.normal(size=5), {"better": np.full(5, -10.0)})
    v = verdicts_from_runs(five).iloc[0]
    assert v["verdict"] == "untestable" and np.isnan(v["p_value"]) and v["family_size"] == 0
    for n, verdict in ((8, "inconclusive"), (9, "positive")):
        base = rng.normal(size=n)
        frame = per_run_frame(base, {f"m{i}": base - 1 - rng.random(n) for i in range(12)})
        v = verdicts_from_runs(frame)
        assert set(v["verdict"]) == {verdict} and set(v["family_size"]) == {12}
        if n == 8:
            diffs = paired_differences(frame)
            note = detectable_note(v.assign(verdict="inconclusive"), diffs)
            assert "With 8 paired seeds and 12 tested cells per setting no difference" in note
            assert "above the correction's first threshold alpha/12 = 0.0042" in note


def test_direction_comes_from_the_test_and_zeros_follow_one_rule():
    """Done means 5: 22 ties and nine +1.0 give p = 0.0039 with every
    non-tie worse: negative (the whole-table rules took the direction from
    the estimate, 0, and said inconclusive). Five ties and 1..6: the
    interval, on the same non-zero differences as the test, excludes 0."""
    base = np.linspace(-2, -1, 31)
    frame = per_run_frame(base, {"worse": base + np.r_[np.zeros(22), np.ones(9)]})
    v = verdicts_from_runs(frame).iloc[0]
    assert v["p_raw"] == pytest.approx(2.0**-8) and v["verdict"] == "negative"
    assert verdicts_from_runs(frame, family="table").iloc[0]["verdict"] == "inconclusive"
    base = np.linspace(-2, -1, 11)
    frame = per_run_frame(base, {"worse": base + np.r_[np.zeros(5), np.arange(1.0, 7.0)]})
    v = verdicts_from_runs(frame).iloc[0]
    assert v["p_raw"] == pytest.approx(2 / 64) and v["effect_lo"] > 0


def test_a_failed_run_is_charged_and_keeps_its_seed():
    """Done means 5: a run that fails on one seed counts as normalized regret
    1 (log10 regret 0); n_paired stays 10 and n_failed counts it."""
    base = np.linspace(-3, -2, 10)
    frame = per_run_frame(base, {"fragile": base - 0.5})
    failed = frame[(frame[C.METHOD] == "fragile") & (frame[C.SEED] == 3)][
        [C.PAIR, C.METHOD, C.SEED]
    ]
    charged = charge_failures(frame.drop(failed.index), failed)
    row = charged[(charged[C.METHOD] == "fragile") & (charged[C.SEED] == 3)].iloc[0]
    assert row["auc"] == 0.0 and row["charged"]
    v = verdicts_from_runs(charged).iloc[0]
    assert v["n_paired"] == 10 and v["win_rate"] == pytest.approx(0.9)


def test_equivalence_is_corrected_in_the_same_family():
    """Twelve methods equal to the baseline within noise far below the
    margin are equivalent; the equivalence p is Holm-corrected over the 12."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=10)
    frame = per_run_frame(base, {f"m{i}": base + rng.normal(0, 0.001, 10) for i in range(12)})
    v = verdicts_from_runs(frame)
    assert set(v["verdict"]) == {"equivalent"}
    assert (v["p_equivalence"] >= 2.0**-10 * 12 - 1e-12).all()


def test_benjamini_hochberg_matches_the_textbook_step_up():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan, 0.2])
    m = 5
    order = np.argsort(p[~np.isnan(p)])
    ps = p[~np.isnan(p)][order]
    expected = np.minimum.accumulate((ps * m / np.arange(1, m + 1))[::-1])[::-1]
    got = benjamini_hochberg(p)
    np.testing.assert_allclose(got[~np.isnan(p)][order], np.minimum(expected, 1))
    assert np.isnan(got[4])
    with pytest.raises(ValueError, match="correction"):
        adjust(p, "bonferroni")


def test_stratified_test_agrees_with_monte_carlo():
    """Done means 6: the exact p by convolution agrees with sign-flip Monte
    Carlo within 3 standard errors (ties and zeros included)."""
    rng = np.random.default_rng(4)
    diffs = [np.round(rng.normal(0.3, 1, n), 1) for n in (10, 10, 8, 12, 10)]
    p, direction, statistic, total = stratified_signed_rank(diffs)
    assert direction == 1
    n_mc = 20000
    sums = np.zeros(n_mc)
    for d in diffs:
        d = ties_to_zero(d)
        ranks = doubled_midranks(np.abs(d[d != 0]))
        sums += (rng.random((n_mc, len(ranks))) < 0.5).astype(int) @ ranks
    p_mc = np.mean(np.abs(sums - total / 2) >= abs(statistic - total / 2))
    se = np.sqrt(p_mc * (1 - p_mc) / n_mc)
    assert 0.001 < p < 0.5 and abs(p - p_mc) <= 3 * se


def test_method_level_false_rate_under_the_null():
    """Done means 6: 12 methods no different from a shared baseline, 10
    settings of 10 seeds (2000 replicates): the rate of any false method
    verdict after Holm over methods is <= 0.05 + 3 standard errors."""
    rng = np.random.default_rng(5)
    b, s, m, n = 2000, 10, 12, 10
    values = rng.normal(size=(b, s, m + 1, n))
    d = values[:, :, 1:] - values[:, :, :1]
    ranks = np.argsort(np.argsort(np.abs(d), axis=-1), axis=-1) + 1
    t = (ranks * (d > 0)).sum(axis=-1).sum(axis=1)  # b x m: sum over settings
    p = _two_sided_from_null(np.tile(np.arange(1, n + 1), s), 1000)[t]
    rate = (adjust(p, "holm") < 0.05).any(axis=-1).mean()
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / b)
    # one replicate through the real function gives the same p-values
    frame = pd.concat(
        [
            per_run_frame(
                values[0, k, 0], {f"m{j:02d}": values[0, k, j + 1] for j in range(m)}, f"s{k}"
            )
            for k in range(s)
        ]
    )
    table = method_verdicts(charge_failures(frame), n_boot=50)
    np.testing.assert_allclose(table["p_raw"], p[0])


def test_probability_of_improvement_is_rliables():
    """Mann-Whitney U / (n_x n_y) per setting (lower is better here), mean
    over settings; the stratified bootstrap interval contains it."""
    x = [np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0])]
    y = [np.array([2.0, 4.0]), np.array([0.0, 1.0])]
    # setting 1: pairs (1<2, 1<4, 2=2 half, 2<4, 3>2, 3<4) = 4.5 / 6; setting 2: (0=0, 0<1) x2 = 3/4
    assert probability_of_improvement(x, y) == pytest.approx((4.5 / 6 + 0.75) / 2)
    lo, hi = poi_interval(x, y, seed=0, n_boot=500)
    assert lo <= probability_of_improvement(x, y) <= hi
