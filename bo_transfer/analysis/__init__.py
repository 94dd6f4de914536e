"""Analysis: regret, statistics, tables and figures. DataFrame in, object out."""

from bo_transfer.analysis.citations import References, references
from bo_transfer.analysis.figures import (
    method_colors,
    method_style,
    method_styles,
    plot_critical_difference,
    plot_effect_heatmap,
    plot_mean_rank,
    plot_regret,
    plot_transfer_gain,
)
from bo_transfer.analysis.method_level import method_verdicts, probability_of_improvement
from bo_transfer.analysis.ranking import CriticalDifference, critical_difference, nemenyi_cd
from bo_transfer.analysis.regret import (
    REGRET_FLOOR,
    add_random_normalized,
    add_regret,
    load_failed,
    load_results,
    run_metrics,
    truncate,
)
from bo_transfer.analysis.report import Report, build_report
from bo_transfer.analysis.stats import (
    adjust,
    benjamini_hochberg,
    bootstrap_iqm_ci,
    charge_failures,
    family_summary,
    holm,
    iqm,
    method_aggregates,
    rank_curves,
    summarize,
    verdicts,
)
from bo_transfer.analysis.tables import to_csv, to_html, to_latex, to_markdown

__all__ = [
    "REGRET_FLOOR",
    "CriticalDifference",
    "References",
    "Report",
    "add_random_normalized",
    "add_regret",
    "adjust",
    "benjamini_hochberg",
    "bootstrap_iqm_ci",
    "build_report",
    "charge_failures",
    "critical_difference",
    "family_summary",
    "holm",
    "iqm",
    "load_failed",
    "load_results",
    "method_aggregates",
    "method_colors",
    "method_style",
    "method_styles",
    "method_verdicts",
    "nemenyi_cd",
    "plot_critical_difference",
    "plot_effect_heatmap",
    "plot_mean_rank",
    "plot_regret",
    "plot_transfer_gain",
    "probability_of_improvement",
    "rank_curves",
    "references",
    "run_metrics",
    "summarize",
    "to_csv",
    "to_html",
    "to_latex",
    "to_markdown",
    "truncate",
    "verdicts",
]
