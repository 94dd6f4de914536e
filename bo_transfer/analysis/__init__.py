"""Analysis: regret, statistics, tables and figures. DataFrame in, object out."""

from bo_transfer.analysis.figures import plot_regret
from bo_transfer.analysis.regret import REGRET_FLOOR, add_regret, load_results, run_metrics
from bo_transfer.analysis.stats import holm, summarize
from bo_transfer.analysis.tables import to_csv, to_latex, to_markdown

__all__ = [
    "REGRET_FLOOR",
    "add_regret",
    "holm",
    "load_results",
    "plot_regret",
    "run_metrics",
    "summarize",
    "to_csv",
    "to_latex",
    "to_markdown",
]
