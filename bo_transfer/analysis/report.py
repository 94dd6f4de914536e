"""A sweep's report: every table, figure, the BibTeX and the HTML page, computed
from the tidy table and written to one directory."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bo_transfer import columns as C
from bo_transfer.analysis import citations as cit
from bo_transfer.analysis.diagnostics import pair_diagnostics
from bo_transfer.analysis.figures import (
    method_colors,
    plot_critical_difference,
    plot_mean_rank,
    plot_regret,
    plot_transfer_gain,
)
from bo_transfer.analysis.page import png_bytes, render_page
from bo_transfer.analysis.ranking import CriticalDifference, critical_difference
from bo_transfer.analysis.stats import ALPHA, method_aggregates, summarize
from bo_transfer.analysis.tables import to_csv, to_html, to_latex, to_markdown

METRIC_WORDS = {"auc": "area under the log10-regret curve", "final": "final regret"}

DIAGNOSTICS_CAPTION = (
    "Per pair: d = the mean over its sources of diagnostic d, d_worst = its worst source "
    "(least correlated, farthest optimum), both the median over the instances its runs used "
    "(n_instances > 1 for instance=seed pairs); d_min and d_max: the range of the mean over "
    "those instances."
)


@dataclass
class Report:
    """Everything a report shows; :meth:`write` puts it on disk.

    Attributes:
        table: the report table (final budget).
        at: budget -> the report table judged at that budget.
        methods: per-method IQM across pairs and mean rank.
        diagnostics: one row per pair: family and alignment diagnostics (mean
            over sources, worst source, range over instances; see
            :func:`~bo_transfer.analysis.diagnostics.pair_diagnostics`).
        cd: the critical-difference analysis, or None (``cd_note`` says why).
        refs: the BibTeX of the methods and families in the table.
        caption: the table caption (plain text).
        figures: file stem -> (heading, caption, figure).
    """

    table: pd.DataFrame
    at: dict[int, pd.DataFrame]
    methods: pd.DataFrame
    diagnostics: pd.DataFrame
    cd: CriticalDifference | None
    cd_note: str
    refs: cit.References
    caption: str
    figures: dict[str, tuple[str, str, Figure]] = field(default_factory=dict)

    def markdown(self) -> str:
        """``table.md``: the table, its caption, and the tables at ``--at`` budgets."""
        out = [to_markdown(self.table), self.caption, ""]
        for budget, t in self.at.items():
            out += [f"## At {budget} evaluations", "", to_markdown(t)]
        return "\n".join(out).rstrip() + "\n"

    def latex(self) -> str:
        """``table.tex``: the booktabs table citing each method and family."""
        cites = {label: self.refs.cite(label) for label in self.refs.keys}
        keys = cit.STATISTICS_KEYS + (cit.RANKING_KEYS if self.cd is not None else ())
        return to_latex(
            self.table, self.caption, cites, caption_tex=rf"Statistics: \cite{{{','.join(keys)}}}."
        )

    def html(self, pngs: dict[str, bytes] | None = None) -> str:
        """``index.html``: tables and figures on one self-contained page
        (``pngs``: figures already rendered, by file stem)."""
        sections = [("Transfer verdicts", to_html(self.table) + _p(self.caption))]
        for budget, t in self.at.items():
            sections.append((f"At {budget} evaluations", to_html(t)))
        sections.append(("Methods across pairs", _frame_html(self.methods)))
        sections.append(
            ("Pair diagnostics", _frame_html(self.diagnostics) + _p(DIAGNOSTICS_CAPTION))
        )
        if self.cd is None:
            sections.append(("Critical difference", _p(self.cd_note)))
        refs = "".join(
            f"<li>{html.escape(lab)}: {html.escape(', '.join(k))}</li>"
            for lab, k in self.refs.keys.items()
        )
        sections.append(
            (
                "References",
                f"<ul>{refs}</ul><pre>{html.escape(self.refs.bibtex())}</pre>",
            )
        )
        pngs = pngs or {}
        figures = [(h, c, pngs.get(stem, fig)) for stem, (h, c, fig) in self.figures.items()]
        return render_page("bo_transfer report", sections, figures)

    def write(self, out: str | Path, dpi: int = 130) -> list[Path]:
        """Write every file to ``out`` (created); returns the paths written.
        Fixes each figure's layout as drawn for its PNG."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        texts = {
            "table.md": self.markdown(),
            "table.tex": self.latex(),
            "table.csv": to_csv(self.table),
            "references.bib": self.refs.bibtex(),
            "methods.csv": self.methods.to_csv(index=False),
        }
        if self.at:
            frames = [t.assign(budget=b) for b, t in self.at.items()]
            texts["table_at.csv"] = to_csv(pd.concat(frames, ignore_index=True))
        written = []
        for name, text in texts.items():
            (out / name).write_text(text, encoding="utf-8")
            written.append(out / name)
        pngs = {}
        for stem, (_, _, fig) in self.figures.items():
            pngs[stem] = png_bytes(fig, dpi)
            (out / f"{stem}.png").write_bytes(pngs[stem])
            # The PNG's draw placed the axes (constrained layout, in inches, the
            # same for any dpi); keeping them spares the PDF a second layout pass,
            # the slowest part of a many-panel figure.
            fig.set_layout_engine("none")
            fig.savefig(out / f"{stem}.pdf")
            written += [out / f"{stem}.png", out / f"{stem}.pdf"]
        (out / "index.html").write_text(self.html(pngs), encoding="utf-8")
        written.append(out / "index.html")
        return written


def _p(text: str) -> str:
    return f'<p class="caption">{html.escape(text)}</p>'


def _frame_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, classes="report", float_format=lambda v: f"{v:.3g}")


def power_note(table: pd.DataFrame, alpha: float = ALPHA) -> str:
    """A warning when no verdict of ``table`` can be significant.

    With ``n`` paired seeds, the smallest p-value of an exact one-sided Wilcoxon
    signed-rank test is ``2**-n`` (every difference has the same sign); Holm
    over ``m`` tests rejects nothing unless the smallest p is below
    ``alpha / m``. Empty when some comparison can reach significance.
    """
    tested = table[table["verdict"] != "baseline"]
    if tested.empty:
        return ""
    m = 2 * len(tested)
    n = int(tested["n_seeds"].max())
    if 2.0**-n * m < alpha:
        return ""
    need = int(np.ceil(np.log2(m / alpha)))
    return (
        f"Note: with {n} seeds no verdict can be significant (smallest one-sided Wilcoxon "
        f"p = 2^-{n}, Holm over {m} tests needs < {alpha / m:.2g}); {need} or more seeds needed."
    )


def build_report(
    df: pd.DataFrame,
    baseline: str = "cold-gp",
    metric: str = "auc",
    at: tuple[int, ...] = (),
    alpha: float = ALPHA,
) -> Report:
    """Compute a sweep's report from its tidy table (pure: nothing is written).

    Args:
        df: the tidy table of :func:`~bo_transfer.analysis.load_results`.
        baseline: the method the verdicts compare against.
        metric: ``auc`` or ``final``: what verdicts and ranks judge.
        at: extra budgets (evaluations) to judge the runs at.
        alpha: family-wise error rate of each table's tests.
    """
    table = summarize(df, baseline=baseline, metric=metric, alpha=alpha)
    tables_at = {b: summarize(df, baseline, metric, alpha, budget=b) for b in at}
    diagnostics = pair_diagnostics(df)
    colors = method_colors(list(df[C.METHOD].unique()))

    labels = df.groupby(C.METHOD)["method_name"].first() if "method_name" in df else None
    method_names = dict(labels.items()) if labels is not None else {m: m for m in table[C.METHOD]}
    refs = cit.references(method_names, sorted(df[C.FAMILY].unique()))

    budget = int(df[C.ITERATION].max())
    seeds = table["n_seeds"]
    seed_text = (
        f"{int(seeds.min())}"
        if seeds.min() == seeds.max()
        else f"{int(seeds.min())}-{int(seeds.max())}"
    )
    caption = (
        f"Budget {budget} evaluations, {seed_text} seeds per method and pair. "
        f"Verdict vs {baseline}: paired one-sided Wilcoxon signed-rank tests on the "
        f"{METRIC_WORDS[metric]}, Holm-corrected over the table, alpha {alpha:g} "
        f"(+ positive, - negative transfer, o neutral). Bold: best mean final regret and AUC per "
        f"pair. IQM: interquartile mean of the final regret with a 95% bootstrap interval. "
        f"Effect: median paired difference of log10 regret vs the baseline (negative = better); "
        f"P(better): fraction of seeds where the method beat the baseline."
    )
    power = power_note(table, alpha)
    if power:
        caption += " " + power

    figures: dict[str, tuple[str, str, Figure]] = {
        "regret_curves": (
            "Regret curves",
            "Normalized regret (median over seeds, interquartile band), log scale.",
            plot_regret(df, colors=colors),
        ),
        "mean_rank": (
            "Mean rank over iterations",
            "Rank by best regret so far within each pair and seed (1 = best), averaged.",
            plot_mean_rank(df, colors=colors),
        ),
    }
    if baseline in set(table[C.METHOD]) and diagnostics.get("pearson", pd.Series()).notna().any():
        figures["transfer_gain"] = (
            "Transfer gain vs correlation",
            f"Gain = minus the median paired difference of log10 regret ({METRIC_WORDS[metric]}) "
            f"vs {baseline}; above 0 transfer helped, below 0 it hurt. Filled markers: "
            f"significant verdicts. Correlation: the mean over a pair's sources (and, when a "
            f"pair has several, its worst source in a second panel), the median over the "
            f"instances of an instance=seed pair.",
            plot_transfer_gain(table, diagnostics, colors=colors),
        )
    cd, cd_note = None, ""
    try:
        cd = critical_difference(df, metric=metric, alpha=alpha)
    except ValueError as exc:
        cd_note = f"No critical-difference diagram: {exc}."
    if cd is not None:
        for key in cit.RANKING_KEYS:
            refs.entries.setdefault(key, cit.library()[key])
        figures["critical_difference"] = (
            "Critical difference",
            f"Mean rank across {cd.n_blocks} pairs (1 = best); methods joined by a bar do not "
            f"differ significantly (Nemenyi, alpha {alpha:g}). Friedman p = {cd.friedman_p:.2g}.",
            plot_critical_difference(cd, colors=colors),
        )
    return Report(
        table=table,
        at=tables_at,
        methods=method_aggregates(df, metric=metric),
        diagnostics=diagnostics,
        cd=cd,
        cd_note=cd_note,
        refs=refs,
        caption=caption,
        figures=figures,
    )
