"""Column names of the exported tidy table and the report, in one place.

The names marked contract in DESIGN.md are what users' scripts rely on.
"""

PAIR = "pair"
FAMILY = "family"
METHOD = "method"
SEED = "seed"
ITERATION = "iteration"
Y = "y"
BEST_Y = "best_y"
REGRET = "regret"
NORMALIZED_REGRET = "normalized_regret"
LOG_REGRET = "log10_normalized_regret"
ELAPSED_S = "elapsed_s"
RUN_KEY = "run_key"
OPTIMAL_VALUE = "optimal_value"
#: The concrete pair a run used (differs from ``pair`` for ``instance=seed`` names).
PAIR_INSTANCE = "pair_instance"
#: The certified optimum; ``optimal_value`` is the lower of it and the best value seen.
CERTIFIED_OPTIMAL_VALUE = "certified_optimal_value"
#: Extra analysis measure (not an export contract column): regret over the median
#: regret of ``random`` on the same pair at the same iteration (1 = random search).
RANDOM_NORMALIZED_REGRET = "random_normalized_regret"

EXPORT_COLUMNS = [PAIR, FAMILY, METHOD, SEED, ITERATION, Y, BEST_Y, REGRET, NORMALIZED_REGRET]

REPORT_COLUMNS = [
    PAIR,
    METHOD,
    "n_seeds",
    "final_regret_mean",
    "final_regret_se",
    "final_regret_median",
    "auc_mean",
    "mean_rank",
    "p_value",
    "verdict",
    "n_paired",
    "n_failed",
]

VERDICTS = ("baseline", "positive", "negative", "equivalent", "inconclusive", "untestable")
