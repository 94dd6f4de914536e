"""The report's statistics against independent computations (scipy and by hand)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bo_transfer import columns as C
from bo_transfer.analysis import (
    add_random_normalized,
    add_regret,
    bootstrap_iqm_ci,
    critical_difference,
    method_aggregates,
    nemenyi_cd,
    rank_curves,
    summarize,
    verdicts,
)
from bo_transfer.analysis.regret import REGRET_FLOOR
from bo_transfer.analysis.stats import verdicts_from_runs


def tidy(regrets: dict[tuple[str, str, int], list[float]]) -> pd.DataFrame:
    """A tidy table from ``{(pair, method, seed): [y per iteration]}`` with
    optimum 0 and range 1, so regret = best y so far."""
    rows = [
        {
            C.PAIR: pair,
            C.FAMILY: pair.split(":")[0],
            C.METHOD: method,
            C.SEED: seed,
            C.ITERATION: i + 1,
            C.Y: y,
            C.RUN_KEY: f"{pair}/{method}/{seed}",
            C.OPTIMAL_VALUE: 0.0,
            "value_range": 1.0,
        }
        for (pair, method, seed), ys in regrets.items()
        for i, y in enumerate(ys)
    ]
    return add_regret(pd.DataFrame(rows))


def fixed_frame() -> pd.DataFrame:
    """2 pairs x 3 methods x 8 seeds x 4 iterations of fixed pseudo-random values."""
    rng = np.random.default_rng(123)
    data = {}
    for pair, scale in (("a:x=1", 1.0), ("b:x=2", 0.1)):
        for method, shift in (("cold-gp", 0.0), ("warm", -1.5), ("bad", 1.5)):
            for seed in range(8):
                ys = scale * 10 ** (shift + rng.normal(0, 0.4, size=4))
                data[(pair, method, seed)] = list(ys)
    return tidy(data)


def holm_by_hand(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def test_table_matches_scipy_and_hand_computation():
    df = fixed_frame()
    table = summarize(df, baseline="cold-gp").set_index([C.PAIR, C.METHOD])
    # independent per-run metrics: straight from the y values
    runs = {}
    for key, g in df.groupby([C.PAIR, C.METHOD, C.SEED]):
        best = np.minimum.accumulate(g.sort_values(C.ITERATION)[C.Y].to_numpy())
        runs[key] = (best[-1], np.mean(np.log10(np.maximum(best, REGRET_FLOOR))))
    raw_p, keys = [], []
    for pair in ("a:x=1", "b:x=2"):
        final = {
            m: np.array([runs[(pair, m, s)][0] for s in range(8)])
            for m in ("bad", "cold-gp", "warm")
        }
        auc = {m: np.array([runs[(pair, m, s)][1] for s in range(8)]) for m in final}
        for m in final:
            row = table.loc[(pair, m)]
            assert row["n_seeds"] == 8
            assert row["final_regret_mean"] == pytest.approx(final[m].mean())
            assert row["final_regret_se"] == pytest.approx(stats.sem(final[m]))
            assert row["final_regret_median"] == pytest.approx(np.median(final[m]))
            assert row["auc_mean"] == pytest.approx(auc[m].mean())
            # IQM of 8 values: the mean of the middle 4
            assert row["final_regret_iqm"] == pytest.approx(np.sort(final[m])[2:6].mean())
            assert (
                row["final_regret_iqm_lo"] <= row["final_regret_iqm"] <= row["final_regret_iqm_hi"]
            )
        ranks = stats.rankdata(
            np.column_stack([auc[m] for m in ("bad", "cold-gp", "warm")]), axis=1
        )
        for j, m in enumerate(("bad", "cold-gp", "warm")):
            assert table.loc[(pair, m), "mean_rank"] == pytest.approx(ranks[:, j].mean())
        for m in ("bad", "warm"):
            d = auc[m] - auc["cold-gp"]
            raw_p += [
                stats.wilcoxon(d, alternative="less").pvalue,
                stats.wilcoxon(d, alternative="greater").pvalue,
            ]
            keys.append((pair, m))
            row = table.loc[(pair, m)]
            assert row["effect"] == pytest.approx(np.median(d))
            assert row["p_improve"] == pytest.approx(np.mean(d < 0))
    adjusted = holm_by_hand(raw_p)
    for k, (pair, m) in enumerate(keys):
        row = table.loc[(pair, m)]
        assert row["p_better"] == pytest.approx(adjusted[2 * k])
        assert row["p_worse"] == pytest.approx(adjusted[2 * k + 1])
        assert row["p_value"] == pytest.approx(min(adjusted[2 * k], adjusted[2 * k + 1]))
    assert set(table.xs("warm", level=C.METHOD)["verdict"]) == {"positive"}
    assert set(table.xs("bad", level=C.METHOD)["verdict"]) == {"negative"}
    assert set(table.xs("cold-gp", level=C.METHOD)["verdict"]) == {"baseline"}


def test_verdicts_is_the_table_without_the_baseline():
    df = fixed_frame()
    v = verdicts(df, baseline="cold-gp").set_index([C.PAIR, C.METHOD])
    t = summarize(df, baseline="cold-gp").set_index([C.PAIR, C.METHOD])
    assert len(v) == 4 and "cold-gp" not in v.index.get_level_values(C.METHOD)
    for col in ("p_value", "verdict", "effect", "p_improve"):
        assert (v[col] == t.loc[v.index, col]).all()
    assert (v["n_paired"] == 8).all()


def test_effect_of_final_metric_is_on_log_scale():
    df = tidy({("p:x=1", "cold-gp", s): [1.0, 0.1] for s in range(4)})
    df = pd.concat([df, tidy({("p:x=1", "warm", s): [1.0, 0.001] for s in range(4)})])
    v = verdicts(df, metric="final").set_index(C.METHOD)
    assert v.loc["warm", "effect"] == pytest.approx(-2.0)  # log10(0.001) - log10(0.1)
    assert v.loc["warm", "p_improve"] == 1.0


def test_random_normalized_regret_is_one_at_the_median_of_random():
    data = {("p:x=1", "random", s): [r, r / 2] for s, r in enumerate([0.2, 0.4, 0.8])}
    data[("p:x=1", "cold-gp", 0)] = [0.4, 0.1]
    df = add_random_normalized(tidy(data))
    cold = df[df[C.METHOD] == "cold-gp"].sort_values(C.ITERATION)
    # random's median regret: 0.4 at iteration 1, 0.2 at iteration 2
    np.testing.assert_allclose(cold[C.RANDOM_NORMALIZED_REGRET], [1.0, 0.5])
    # the contract column is untouched
    np.testing.assert_allclose(cold[C.NORMALIZED_REGRET], [0.4, 0.1])
    no_random = add_random_normalized(tidy({("p:x=1", "cold-gp", 0): [0.4]}))
    assert no_random[C.RANDOM_NORMALIZED_REGRET].isna().all()


def test_budget_judges_the_runs_as_if_they_stopped_there():
    df = fixed_frame()
    at2 = summarize(df, budget=2)
    cut = summarize(df[df[C.ITERATION] <= 2])
    pd.testing.assert_frame_equal(at2, cut)
    assert not at2["final_regret_mean"].equals(summarize(df)["final_regret_mean"])


def test_rank_curves_average_ranks_per_iteration():
    df = tidy(
        {
            ("p:x=1", "a", 0): [3.0, 1.0],
            ("p:x=1", "b", 0): [2.0, 2.0],
            ("p:x=1", "a", 1): [1.0, 1.0],
            ("p:x=1", "b", 1): [2.0, 1.0],
        }
    )
    curves = rank_curves(df).set_index([C.METHOD, C.ITERATION])["mean_rank"]
    assert curves[("a", 1)] == pytest.approx(1.5)  # rank 2, rank 1
    assert curves[("a", 2)] == pytest.approx(1.25)  # rank 1, tie 1.5
    assert curves[("b", 2)] == pytest.approx(1.75)


def test_stratified_bootstrap_keeps_strata_sizes():
    # Constant strata: every stratified resample pools the same multiset, so the
    # interval collapses onto the IQM; an unstratified bootstrap would not.
    strata = [np.zeros(6), np.ones(2)]
    point, lo, hi = bootstrap_iqm_ci(strata, seed=0)
    assert point == lo == hi == pytest.approx(stats.trim_mean(np.r_[strata[0], strata[1]], 0.25))
    x = np.random.default_rng(0).normal(size=30)
    a, b = bootstrap_iqm_ci([x], seed=1), bootstrap_iqm_ci([x], seed=1)
    assert a == b and a[1] < a[0] < a[2]
    wide = bootstrap_iqm_ci([x[:8]], seed=1)
    assert wide[2] - wide[1] > a[2] - a[1]


def test_method_aggregates_rank_methods_across_pairs():
    df = fixed_frame()
    agg = method_aggregates(df).set_index(C.METHOD)
    assert agg["measure"].iloc[0] == "final_normalized_regret"  # no random runs
    assert agg.loc["warm", "iqm"] < agg.loc["cold-gp", "iqm"] < agg.loc["bad", "iqm"]
    assert (agg["n_pairs"] == 2).all() and (agg["n_runs"] == 16).all()


def test_critical_difference_matches_friedman_and_demsar():
    rng = np.random.default_rng(5)
    data = {}
    for p in range(6):
        for method, shift in (("m1", 0.0), ("m2", 0.1), ("m3", 1.0), ("m4", 1.1)):
            for s in range(3):
                data[(f"p:x={p}", method, s)] = list(10 ** (shift + rng.normal(0, 0.05, 3) - 2))
    cd = critical_difference(tidy(data))
    # Demsar (2006), Table 5(a): q_0.05 = 2.569 for k = 4
    assert cd.cd == pytest.approx(2.569 * np.sqrt(4 * 5 / (6 * 6)), abs=2e-3)
    assert nemenyi_cd(2, 10) == pytest.approx(1.960 * np.sqrt(2 * 3 / 60), abs=2e-3)
    # Friedman statistic from its formula (no ties): 12N/(k(k+1)) [sum R_j^2 - k(k+1)^2/4]
    r, n, k = cd.mean_ranks, 6, 4
    chi2 = 12 * n / (k * (k + 1)) * ((r**2).sum() - k * (k + 1) ** 2 / 4)
    assert cd.friedman_statistic == pytest.approx(chi2)
    assert cd.friedman_p == pytest.approx(stats.chi2.sf(chi2, k - 1))
    assert list(r.index[:2]) == ["m1", "m2"] and cd.friedman_p < 0.01
    # m1/m2 and m3/m4 are one rank apart (< CD 1.91); m1 and m4 three (> CD)
    assert not any({"m1", "m4"} <= set(c) for c in cd.cliques)
    assert any({"m1", "m2"} <= set(c) for c in cd.cliques)
    with pytest.raises(ValueError, match="3 methods"):
        critical_difference(tidy({k: v for k, v in data.items() if k[1] in ("m1", "m2")}))


def per_run_frame(base: np.ndarray, other: np.ndarray) -> pd.DataFrame:
    n = len(base)
    return pd.DataFrame(
        {
            C.PAIR: "p",
            C.METHOD: ["cold-gp"] * n + ["other"] * n,
            C.SEED: list(range(n)) * 2,
            "auc": np.r_[base, other],
        }
    )


def negative_rate(draw, n_rep: int, n_seeds: int = 10, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    flags = 0
    for _ in range(n_rep):
        base, other = draw(rng, n_seeds)
        v = verdicts_from_runs(per_run_frame(base, other), baseline="cold-gp")
        flags += v["verdict"].iloc[0] == "negative"
    return flags / n_rep


def tolerance(n_rep: int) -> float:
    """alpha plus two binomial standard errors of a rate measured n_rep times."""
    return 0.05 + 2 * np.sqrt(0.05 * 0.95 / n_rep)


def test_aa_calibration_flags_negative_at_most_at_the_nominal_level():
    """A/A: the baseline against itself with different seeds (independent draws
    of the same distribution) is flagged negative no more often than alpha."""
    rate = negative_rate(lambda rng, n: (rng.normal(-1, 0.5, n), rng.normal(-1, 0.5, n)), 200)
    assert rate <= tolerance(200)


def test_equal_median_but_wider_spread_is_not_flagged():
    """A method that is noisier but not worse in median (symmetric differences)
    must not be called negative transfer more often than alpha."""
    draw = lambda rng, n: (rng.normal(-1, 0.1, n), rng.normal(-1, 1.0, n))  # noqa: E731
    assert negative_rate(draw, 150, seed=1) <= tolerance(150)


def test_a_real_shift_is_detected():
    """A method 0.5 log10 units worse (with seed noise 0.3) is called negative in
    almost every experiment; the same shift downwards is positive."""
    worse = negative_rate(
        lambda rng, n: ((b := rng.normal(-1, 0.3, n)), b + 0.5 + rng.normal(0, 0.3, n)),
        n_rep=60,
        seed=2,
    )
    assert worse >= 0.9
    rng = np.random.default_rng(3)
    base = rng.normal(-1, 0.3, 10)
    v = verdicts_from_runs(per_run_frame(base, base - 0.5 + rng.normal(0, 0.1, 10)))
    assert v["verdict"].iloc[0] == "positive"
