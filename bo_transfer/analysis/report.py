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
from bo_transfer.analysis.break_even import COLUMNS as BE_COLUMNS
from bo_transfer.analysis.break_even import break_even, describe, grid_of
from bo_transfer.analysis.diagnostics import pair_diagnostics
from bo_transfer.analysis.figures import (
    Styles,
    method_styles,
    plot_critical_difference,
    plot_effect_heatmap,
    plot_mean_rank,
    plot_regret,
    plot_transfer_gain,
    setting_layout,
)
from bo_transfer.analysis.method_level import method_verdicts
from bo_transfer.analysis.page import figure_html, png_bytes, render_page
from bo_transfer.analysis.ranking import CriticalDifference, critical_difference
from bo_transfer.analysis.regret import run_metrics
from bo_transfer.analysis.signed_rank import TIE_TOL, detectable_shift
from bo_transfer.analysis.stats import (
    ALPHA,
    CORRECTION_WORDS,
    FAMILY_WORDS,
    MARGIN,
    METRIC_WORDS,
    charge_failures,
    family_summary,
    method_aggregates,
    paired_differences,
    summarize,
    zero_reference_pairs,
)
from bo_transfer.analysis.tables import (
    PIVOT_MARK,
    break_even_latex,
    break_even_markdown,
    breakable,
    human,
    method_verdicts_latex,
    method_verdicts_markdown,
    p_text,
    pivot_html,
    pivot_latex,
    to_csv,
    to_html,
    to_latex,
    to_markdown,
)
from bo_transfer.seeding import derive_seed

#: Power at which the caption states the smallest detectable effect.
POWER = 0.8

#: The break-even columns table.csv gains.
BE_VALUES = ["break_even", "break_even_lo", "break_even_hi"]
BREAK_EVEN_CAPTION = (
    "Break-even correlation: where a method's transfer gain against the baseline (minus the "
    "paired difference of the table's metric) reaches zero, on pairs that differ only in "
    "their source-target correlation (each at its Pearson correlation, mean over sources, "
    "median over instances), from the isotonic (non-decreasing) least-squares fit of the "
    "gain on the correlation, interpolated linearly. 95% interval: percentile bootstrap over "
    "seeds; resamples whose fit never breaks even (negative on the whole grid) lie above the "
    "grid, those never negative below it, so an end in that mass is censored: '>1.00)' or "
    "'(<-1.00'. A value is given only when the interval lies inside the grid and spans at "
    "most 0.5; otherwise 'not identified' (a flat fit has no crossing to place)."
)
DIAGNOSTICS_CAPTION = (
    "Per pair: d = the mean over its sources of diagnostic d, d worst = its worst source "
    "(least correlated, farthest optimum), both the median over the instances its runs used "
    "(n instances > 1 for instance=seed pairs); in brackets the range of the mean over "
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
        cd: the critical-difference analysis when its diagram can say
            something, else None (``cd_note`` says why).
        cd_note: why there is no critical-difference diagram ("" when there is).
        refs: the BibTeX of the methods and families in the table.
        caption: the table caption (plain text).
        figures: file stem -> (heading, caption, figure).
        methods_note: what the per-method aggregates left out ("" when nothing).
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
    methods_note: str = ""
    #: One row per correlation grid and method (:mod:`~bo_transfer.analysis.break_even`).
    break_even: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BE_COLUMNS))
    #: Each method's colour and marker (the same in every figure and report).
    styles: Styles = field(default_factory=dict)
    #: What ran and how it was judged (:func:`summary_facts`).
    facts: dict = field(default_factory=dict)
    #: One verdict per method across settings
    #: (:func:`~bo_transfer.analysis.method_level.method_verdicts`); leads the report.
    method_verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Its caption (plain text).
    method_caption: str = ""
    #: The table's family, correction and expected false verdicts
    #: (:func:`~bo_transfer.analysis.stats.family_summary`).
    family: dict = field(default_factory=dict)

    def markdown(self) -> str:
        """``table.md``: the table, its caption (and why a figure or a pair was
        left out), the break-even correlations, and the tables at ``--at``
        budgets."""
        out = []
        if len(self.method_verdicts):
            out += ["## Verdict per method", "", method_verdicts_markdown(self.method_verdicts)]
            out += [self.method_caption, "", "## Verdict per setting", ""]
        out += [to_markdown(self.table), self.caption, ""]
        out += [f"{note}\n" for note in (self.cd_note, self.methods_note) if note]
        if len(self.break_even):
            out += ["## Break-even correlation", "", break_even_markdown(self.break_even)]
            out += [BREAK_EVEN_CAPTION, ""]
        for budget, t in self.at.items():
            out += [f"## At {budget} evaluations", "", to_markdown(t)]
        return "\n".join(out).rstrip() + "\n"

    def latex(self) -> str:
        """``table.tex``: a compact methods x settings table that fits a page,
        the whole table as a ``longtable`` citing each method and family, and
        the break-even correlations when the pairs form a correlation grid.
        Needs ``booktabs``, ``longtable`` and ``graphicx``."""
        cites = {label: self.refs.cite(label) for label in self.refs.keys}
        keys = cit.STATISTICS_KEYS + (cit.RANKING_KEYS if self.cd is not None else ())
        stats_tex = rf"Statistics: \cite{{{','.join(keys)}}}."
        text = ""
        if len(self.method_verdicts):
            text += method_verdicts_latex(self.method_verdicts, self.method_caption) + "\n"
        text += pivot_latex(self.table, PIVOT_CAPTION, caption_tex=stats_tex) + "\n"
        text += to_latex(self.table, self.caption, cites, caption_tex=stats_tex)
        if len(self.break_even):
            text += "\n" + break_even_latex(self.break_even, BREAK_EVEN_CAPTION)
        return text

    def csv(self) -> str:
        """``table.csv``: the report table, with each (pair, method)'s
        break-even correlation of its grid (``break_even``, ``_lo``, ``_hi``)
        when the pairs form a correlation grid."""
        table = self.table
        if len(self.break_even):
            table = table.assign(grid=table[C.PAIR].map(grid_of)).merge(
                self.break_even[["grid", C.METHOD, *BE_VALUES]], on=["grid", C.METHOD], how="left"
            )
            table = table.drop(columns="grid")
        return to_csv(table)

    def html(self, pngs: dict[str, bytes] | None = None) -> str:
        """``index.html``, in reading order: the summary (the answer first),
        the method-level verdicts, the figures of when transfer hurts, the
        compact methods x settings table, the per-setting tables (folded), the
        other figures, the diagnostics and the references (folded). ``pngs``:
        figures already rendered, by file stem."""
        pngs = pngs or {}

        def fig(stem: str) -> str:
            heading, caption, figure = self.figures[stem]
            return figure_html(f"fig-{stem}", heading, caption, pngs.get(stem, figure))

        sections = [("methods", "Methods: verdicts across settings", self._methods_html())]
        headline = [fig(s) for s in HEADLINE_FIGURES if s in self.figures]
        if headline:
            sections.append(
                ("when-transfer-hurts", "When transfer helps and hurts", "".join(headline))
            )
        sections.append(
            (
                "pivot",
                "Methods x settings",
                f'<div class="scroll">{pivot_html(self.table)}</div>' + _p(PIVOT_CAPTION),
            )
        )
        if len(self.break_even):
            shown = self.break_even.assign(
                **{"break-even [95% CI]": self.break_even.apply(describe, axis=1)}
            )[["grid", C.METHOD, "n_points", "break-even [95% CI]"]]
            sections.append(
                (
                    "break-even",
                    "Break-even correlation",
                    _frame_html(shown) + _p(BREAK_EVEN_CAPTION),
                )
            )
        sections.append(("settings", "Per-setting tables", self._settings_html()))
        others = [fig(s) for s in self.figures if s not in HEADLINE_FIGURES]
        if self.cd is None and self.cd_note:
            others.append(_p(self.cd_note))
        sections.append(("curves", "Regret curves and ranks", "".join(others)))
        sections.append(
            (
                "diagnostics",
                "Pair diagnostics",
                f'<div class="scroll">{_diagnostics_html(self.diagnostics)}</div>'
                + _p(DIAGNOSTICS_CAPTION),
            )
        )
        refs = "".join(
            f"<li>{html.escape(lab)}: {html.escape(', '.join(k))}</li>"
            for lab, k in self.refs.keys.items()
        )
        sections.append(
            (
                "references",
                "References",
                f"<details><summary>{len(self.refs.entries)} BibTeX entries (references.bib)"
                f"</summary><ul>{refs}</ul><pre>{html.escape(self.refs.bibtex())}</pre></details>",
            )
        )
        return render_page(
            self.facts.get("title", "bo_transfer report"), self._summary_html(), sections
        )

    def _summary_html(self) -> str:
        f = self.facts
        counts = f.get("verdicts", {})
        tested = sum(counts.values())
        kinds = ", ".join(f"<b>{human(counts[v])}</b> {v}" for v in VERDICT_ORDER if counts.get(v))
        lines = [
            f"<p><b>What ran:</b> {human(f['n_pairs'])} pairs ({html.escape(f['families'])}), "
            f"{human(f['n_methods'])} methods, {html.escape(f['seeds'])} seeds, a budget of "
            f"{human(f['budget'])} evaluations: {human(f['n_runs'])} runs.</p>",
            f"<p><b>How it was judged:</b> each method against {html.escape(f['baseline'])} on "
            f"the {html.escape(f['metric_words'])}, per setting (pair); "
            f"{html.escape(f['family'])}.</p>",
            f"<p><b>Verdicts</b> over {human(tested)} method-setting cells: {kinds}.</p>",
        ]
        answer = [f"<li>{html.escape(a)}</li>" for a in f.get("answers", [])]
        if answer:
            lines.append(f"<p><b>In short:</b></p><ul>{''.join(answer)}</ul>")
        return f'<div class="summary" id="summary">{"".join(lines)}</div>'

    def _methods_html(self) -> str:
        frame = verdict_counts(self.table, self.methods)
        by_method = self.method_verdicts
        if len(by_method):
            frame = frame.merge(
                by_method[[C.METHOD, "verdict", "poi", "poi_lo", "poi_hi", "p_value"]].rename(
                    columns={"verdict": "method_verdict"}
                ),
                on=C.METHOD,
                how="left",
            )
        baseline = self.facts.get("baseline")
        head = ["method"]
        if len(by_method):
            head += ["verdict across settings", "P(improvement) [95% CI]", "p"]
        head += ["settings: helped (+)", "hurt (\u2212)", "equivalent (=)", "inconclusive"]
        head += ["median effect", "IQM [95% CI]", "mean rank"]
        body = []
        for _, r in frame.iterrows():
            m = r[C.METHOD]
            is_base = m == baseline
            color = self.styles[m].color if m in self.styles else "#888"
            swatch = f'<span class="swatch" style="background:{color}"></span>'
            cells = [("", swatch + html.escape(m))]
            if len(by_method):
                verdict = "baseline" if is_base else str(r["method_verdict"])
                mark = PIVOT_MARK.get(verdict, "")
                poi = f"{human(r['poi'])} [{human(r['poi_lo'])}, {human(r['poi_hi'])}]"
                cells += [
                    (
                        verdict,
                        html.escape(verdict) + (f" <b>{html.escape(mark)}</b>" if mark else ""),
                    ),
                    ("", "" if is_base else poi),
                    ("", "" if is_base else p_text(r["p_value"])),
                ]
            counts = (
                ["baseline", "", "", ""]
                if is_base
                else [human(r[v]) for v in ("positive", "negative", "equivalent", "inconclusive")]
            )
            cells += [("", c) for c in counts]
            cells += [
                ("", "" if is_base else human(r["median_effect"])),
                ("", f"{human(r['iqm'])} [{human(r['iqm_lo'])}, {human(r['iqm_hi'])}]"),
                ("", human(r["mean_rank"], 3)),
            ]
            tds = "".join(
                f'<td class="{html.escape(c)}">{v}</td>' if c else f"<td>{v}</td>" for c, v in cells
            )
            row_cls = ' class="baseline"' if is_base else ""
            body.append(f"<tr{row_cls}>{tds}</tr>")
        table = (
            '<table class="report"><thead><tr>'
            + "".join(f"<th>{html.escape(h)}</th>" for h in head)
            + f"</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
        measure = (
            str(self.methods["measure"].iloc[0]).replace("_", " ") if len(self.methods) else ""
        )
        note = (
            f"Per setting: how many settings the method's verdict against {baseline} was "
            f"positive (helped), negative (hurt), equivalent or inconclusive; the median effect "
            f"over settings (log10, negative = better); the IQM of the {measure} across pairs "
            f"with a 95% stratified bootstrap interval; the mean rank (1 = best). Best mean rank "
            f"first."
        )
        captions = [self.method_caption, note] if self.method_caption else [note]
        extra = _p(self.methods_note) if self.methods_note else ""
        return f'<div class="scroll">{table}</div>' + "".join(map(_p, captions)) + extra

    def _settings_html(self) -> str:
        parts = [_p(self.caption)]
        order = [p for _, cells in setting_layout(self.table[C.PAIR].unique()) for p, _ in cells]
        for pair in order:
            rows = self.table[self.table[C.PAIR] == pair]
            counts = rows["verdict"].value_counts()
            tally = ", ".join(f"{human(counts[v])} {v}" for v in VERDICT_ORDER if counts.get(v))
            parts.append(
                f"<details><summary>{breakable(pair)}: {html.escape(tally)}</summary>"
                f'<div class="scroll">{to_html(rows, pair=False)}'
                f"</div></details>"
            )
        for budget, t in self.at.items():
            parts.append(
                f"<details><summary>Every setting at {human(budget)} evaluations</summary>"
                f'<div class="scroll">{to_html(t)}</div></details>'
            )
        return "".join(parts)

    def write(self, out: str | Path, dpi: int = 130) -> list[Path]:
        """Write every file to ``out`` (created); returns the paths written.
        Fixes each figure's layout as drawn for its PNG."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        texts = {
            "table.md": self.markdown(),
            "table.tex": self.latex(),
            "table.csv": self.csv(),
            "references.bib": self.refs.bibtex(),
            "methods.csv": self.methods.to_csv(index=False),
        }
        if len(self.method_verdicts):
            texts["method_verdicts.csv"] = self.method_verdicts.to_csv(index=False)
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


#: Verdicts in the order the summary and the tallies name them.
VERDICT_ORDER = ("positive", "negative", "equivalent", "inconclusive", "untestable")
#: The figures that answer the report's question, shown right after the method table.
HEADLINE_FIGURES = ("effect_heatmap", "transfer_gain")
PIVOT_CAPTION = (
    "Each cell: the effect of a method (column or row) on a setting, method minus baseline "
    "in log10 units of the judged metric (negative = better), with its verdict as a mark: "
    "+ positive (transfer helped), \u2212 negative (transfer hurt), = equivalent, none "
    "inconclusive; significant verdicts in colour (HTML) or bold (LaTeX). Settings of a "
    "correlation grid in numeric order of their correlation."
)


def verdict_counts(table: pd.DataFrame, methods: pd.DataFrame) -> pd.DataFrame:
    """One row per method: how many settings each verdict covers, the median
    effect over settings, and the per-method IQM and mean rank of ``methods``
    (:func:`~bo_transfer.analysis.stats.method_aggregates`); best mean rank first."""
    counts = pd.crosstab(table[C.METHOD], table["verdict"])
    for v in VERDICT_ORDER:
        if v not in counts:
            counts[v] = 0
    out = counts[list(VERDICT_ORDER)].reset_index()
    out["median_effect"] = out[C.METHOD].map(table.groupby(C.METHOD)["effect"].median())
    out = out.merge(
        methods[[C.METHOD, "iqm", "iqm_lo", "iqm_hi", "mean_rank"]], on=C.METHOD, how="left"
    )
    return out.sort_values(["mean_rank", C.METHOD], kind="stable", ignore_index=True)


def _diagnostics_html(diagnostics: pd.DataFrame) -> str:
    """The diagnostics table, compact: per diagnostic its value with the
    range over instances (when the pair has several) and its worst source;
    numbers for people (``0``, not ``6.94e-18``); pair names wrap between
    their parameters."""
    from bo_transfer.problems.pair import DIAGNOSTICS

    present = [d for d in DIAGNOSTICS if d in diagnostics]
    counts = [c for c in ("n_sources", "n_instances") if c in diagnostics]
    names = ["pair", *counts]
    for d in present:
        names += [f"{d} [range]", f"{d} worst"]
    head = "".join(
        f"<th{' class=name' if h == 'pair' else ''}>{breakable(h.replace('_', ' '))}</th>"
        for h in names
    )
    body = []
    for _, r in diagnostics.iterrows():
        cells = [f'<td class="name">{breakable(str(r[C.PAIR]))}</td>']
        cells += [f"<td>{human(r[c], 3)}</td>" for c in counts]
        for d in present:
            lo, hi = human(r[d + "_min"], 2), human(r[d + "_max"], 2)
            spread = f" [{lo}, {hi}]" if lo != hi else ""
            cells.append(f"<td>{human(r[d], 3)}{spread}</td>")
            cells.append(f"<td>{human(r[d + '_worst'], 3)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="report diagnostics"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def summary_facts(
    df: pd.DataFrame,
    table: pd.DataFrame,
    baseline: str,
    metric: str,
    alpha: float,
    family: str = "setting",
    correction: str = "holm",
    by_method: pd.DataFrame | None = None,
) -> dict:
    """What ran and how it was judged, for the page's summary: counts of
    pairs, methods, runs and verdicts, the seeds and budget, the family of
    tests and its correction, and a few sentences that answer the question
    (which methods helped or hurt in the most settings)."""
    seeds = table.loc[table["n_seeds"] > 0, "n_seeds"]
    tested = table[table["verdict"] != "baseline"]
    counts = tested["verdict"].value_counts()
    errors = family_summary(table, family, correction, alpha)
    answers = []
    if by_method is not None and len(by_method):
        for verdict, words in (("positive", "better"), ("negative", "worse")):
            names = list(by_method.loc[by_method["verdict"] == verdict, C.METHOD])
            if names:
                answers.append(
                    f"Across all settings, significantly {words} than {baseline}: "
                    f"{', '.join(names)}."
                )
    for verdict, words in (("positive", "helped"), ("negative", "hurt")):
        per = tested[tested["verdict"] == verdict][C.METHOD].value_counts()
        n_settings = table[C.PAIR].nunique()
        if len(per):
            top = ", ".join(f"{k} ({v} of {n_settings})" for k, v in per.head(3).items())
            answers.append(f"Transfer {words} significantly most often with: {top} settings.")
        else:
            answers.append(f"No method {words} significantly in any setting.")
    estimated = tested.dropna(subset=["effect"])
    if len(estimated):
        best = estimated.loc[estimated["effect"].idxmin()]
        worst = estimated.loc[estimated["effect"].idxmax()]
        answers.append(
            f"Largest estimated gain: {best[C.METHOD]} on {best[C.PAIR]} (effect "
            f"{human(best['effect'])} log10, {best['verdict']}); largest estimated harm: "
            f"{worst[C.METHOD]} on {worst[C.PAIR]} (effect {human(worst['effect'])} log10, "
            f"{worst['verdict']})."
        )
    if counts.get("inconclusive", 0) > len(tested) / 2:
        answers.append(
            "Most cells are inconclusive: at these seeds most effects cannot be told from "
            "zero (see the smallest detectable effect in the per-setting tables' caption)."
        )
    return {
        "n_pairs": table[C.PAIR].nunique(),
        "families": ", ".join(sorted(df[C.FAMILY].unique())),
        "n_methods": table[C.METHOD].nunique(),
        "seeds": f"{int(seeds.min())}"
        if seeds.min() == seeds.max()
        else f"{int(seeds.min())}-{int(seeds.max())}",
        "budget": int(df[C.ITERATION].max()),
        "n_runs": int(df.groupby([C.PAIR, C.METHOD, C.SEED]).ngroups),
        "baseline": baseline,
        "metric_words": METRIC_WORDS[metric],
        "family": f"{CORRECTION_WORDS[correction]} {FAMILY_WORDS[family]} at alpha {alpha:g}; "
        f"about {errors['expected_false']:.2g} false verdicts expected over the "
        f"{errors['n_families']} famil{'ies' if errors['n_families'] != 1 else 'y'} if no "
        f"method differs from the baseline",
        "verdicts": {v: int(counts.get(v, 0)) for v in VERDICT_ORDER},
        "answers": answers,
    }


def _p(text: str) -> str:
    return f'<p class="caption">{html.escape(text)}</p>'


def _frame_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, classes="report", float_format=lambda v: f"{v:.3g}")


def detectable_note(
    table: pd.DataFrame,
    diffs: pd.DataFrame,
    alpha: float = ALPHA,
    power: float = POWER,
    family: str = "setting",
) -> str:
    """The smallest effect the table's verdicts could have detected.

    With ``n`` paired seeds (the most any tested cell has) and ``m`` tested
    cells in the largest family, a cell is significant only if its p is below
    the correction's first threshold ``alpha / m`` (Holm's and
    Benjamini-Hochberg's alike). The note gives the shift, in standard
    deviations of the paired differences, that the two-sided signed-rank test
    at that level detects with probability ``power`` for normal differences
    (:func:`~bo_transfer.analysis.signed_rank.detectable_shift`), and that shift
    in log10 units at the median over cells of the differences' standard
    deviation. When even ``n`` identical signs cannot reach the threshold (the
    smallest two-sided p is ``2^(1-n)``), it says so and how many seeds would.

    Args:
        table: the report table.
        diffs: the paired differences of its metric
            (:func:`~bo_transfer.analysis.stats.paired_differences`).
        alpha: the level of each family.
        power: the detection probability.
        family: the table's family (:data:`~bo_transfer.analysis.stats.FAMILIES`).
    """
    tested = table[table["p_value"].notna()]
    if tested.empty:
        return ""
    m, n = int(tested["family_size"].max()), int(tested["n_paired"].max())
    level, cells = alpha / m, "cells" if m != 1 else "cell"
    where = "in the whole table" if family == "table" else f"per {family}"
    shift = detectable_shift(n, level, power, seed=derive_seed("detectable", n, m, alpha))
    if not np.isfinite(shift):
        need = int(np.floor(1 + np.log2(m / alpha))) + 1
        return (
            f"With {n} paired seeds and {m} tested {cells} {where} no difference can be "
            f"detected: the smallest two-sided p is 2^(1-{n}) = {2.0 ** (1 - n):.2g}, above "
            f"the correction's first threshold alpha/{m} = {level:.2g}; {need} or more seeds "
            f"are needed."
        )
    sd = diffs.groupby([C.PAIR, C.METHOD])["diff"].std(ddof=1).median()
    in_units = (
        f"; at this table's median standard deviation ({sd:.2g}) that is {shift * sd:.2g} "
        f"log10 units"
        if np.isfinite(sd)
        else ""
    )
    return (
        f"Smallest detectable effect: with {n} paired seeds and {m} tested {cells} {where}, a "
        f"shift of {shift:.2f} standard deviations of the paired differences is detected with "
        f"probability {power:g} (normal differences, the correction's first threshold "
        f"alpha/{m}){in_units}."
    )


def lost_seeds_note(table: pd.DataFrame, limit: int = 6) -> str:
    """Which cells had runs charged as failed ("" when none did)."""
    charged = table[table["n_failed"] > 0]
    if charged.empty:
        return ""
    cells = [
        f"{r[C.PAIR]} / {r[C.METHOD]}: {int(r['n_failed'])} of {int(r['n_paired'])}"
        for _, r in charged.iterrows()
    ]
    more = f"; and {len(cells) - limit} more" if len(cells) > limit else ""
    return (
        f"Failed or missing runs, charged normalized regret 1 (not dropped): "
        f"{'; '.join(cells[:limit])}{more}."
    )


def family_note(summary: dict[str, object]) -> str:
    """The caption's sentence on error control: which family, which
    correction, and how many false verdicts the whole table should expect
    under the null (:func:`~bo_transfer.analysis.stats.family_summary`)."""
    k, alpha = summary["n_families"], summary["alpha"]
    rate = (
        "false discovery rate" if summary["correction"] == "bh" else "chance of any false verdict"
    )
    unit = {"setting": "setting", "method": "method", "table": "table"}[summary["family"]]
    return (
        f"Error control is per {unit}: its {rate} is at most alpha {alpha:g}. Over the "
        f"{k} famil{'ies' if k != 1 else 'y'} of this table, about {k} x {alpha:g} = "
        f"{summary['expected_false']:.2g} false verdicts are expected if no method differs "
        f"from the baseline."
    )


def table_caption(
    table: pd.DataFrame,
    diffs: pd.DataFrame,
    budget: int,
    baseline: str,
    metric: str,
    alpha: float,
    margin: float,
    family: str = "setting",
    correction: str = "holm",
) -> str:
    """The report table's caption: what it judges and how (family,
    correction, the false verdicts to expect), what it could have detected,
    and which cells were charged failed runs (plain text)."""
    seeds = table.loc[table["n_seeds"] > 0, "n_seeds"]
    seed_text = (
        f"{int(seeds.min())}"
        if seeds.min() == seeds.max()
        else f"{int(seeds.min())}-{int(seeds.max())}"
    )
    summary = family_summary(table, family, correction, alpha)
    untestable = summary["n_untestable"]
    parts = [
        f"Budget {budget} evaluations, {seed_text} seeds per method and pair.",
        f"Metric: the {METRIC_WORDS[metric]}; the bold mark (lowest mean per pair), the IQM "
        f"(interquartile mean with a 95% bootstrap interval), the rank, the effect and the "
        f"verdict all use it; the final regret columns are descriptive.",
        f"Verdict vs {baseline}: one two-sided Wilcoxon signed-rank test per cell over the "
        f"paired seeds (exact sign-flip permutation distribution), "
        f"{CORRECTION_WORDS[correction]} {FAMILY_WORDS[family]} at alpha {alpha:g}: positive "
        f"or negative when significant, in the test's direction; otherwise equivalent when "
        f"two one-sided tests against ±{margin:g} log10 units (the margin), corrected alike, "
        f"reject; else inconclusive. Untestable: too few paired seeds for any p to reach "
        f"alpha (outside the family){f'; {untestable} cells' if untestable else ''}. Paired "
        f"differences within {TIE_TOL:g} log10 units are ties, left out by the test and the "
        f"effect's interval alike.",
        family_note(summary),
        "Effect: Hodges-Lehmann estimate of the paired difference, method minus baseline "
        "(negative = better), with its rank-based 95% interval. Wins: the fraction of paired "
        "seeds where the method was better (ties count one half).",
        detectable_note(table, diffs, alpha, family=family),
        lost_seeds_note(table),
    ]
    return " ".join(p for p in parts if p)


def method_caption(
    frame: pd.DataFrame, baseline: str, metric: str, alpha: float, correction: str
) -> str:
    """The caption of the verdict per method (plain text; "" without rows)."""
    if frame.empty:
        return ""
    return (
        f"Verdict per method vs {baseline} across all settings, on the {METRIC_WORDS[metric]}: "
        f"a stratified Wilcoxon signed-rank test (the sum over settings of each setting's "
        f"signed-rank statistic, exact null distribution by convolution), "
        f"{CORRECTION_WORDS[correction]} over the {len(frame)} methods at alpha {alpha:g}; "
        f"positive or negative in the test's direction, failed runs charged normalized regret "
        f"1. POI: probability of improvement, P(a random run of the method beats a random run "
        f"of {baseline} on a random setting), ties one half, as rliable computes it, with a 95% "
        f"stratified bootstrap interval (runs resampled within each setting)."
    )


def build_report(
    df: pd.DataFrame,
    baseline: str = "cold-gp",
    metric: str = "auc",
    at: tuple[int, ...] = (),
    alpha: float = ALPHA,
    margin: float = MARGIN,
    failed: pd.DataFrame | None = None,
    methods: list[str] | None = None,
    highlight: tuple[str, ...] = (),
    title: str = "bo_transfer report",
    family: str = "setting",
    correction: str = "holm",
) -> Report:
    """Compute a sweep's report from its tidy table (pure: nothing is written).

    Args:
        df: the tidy table of :func:`~bo_transfer.analysis.load_results`.
        baseline: the method the verdicts compare against.
        metric: ``auc`` or ``final``: what verdicts, effects, IQM, ranks and
            bold marks judge.
        at: extra budgets (evaluations) to judge the runs at.
        alpha: family-wise error rate of each table's tests.
        margin: the equivalence margin, log10 regret units.
        failed: the sweep's failed runs (``pair, method, seed``; see
            :func:`~bo_transfer.analysis.regret.load_failed`), charged.
        family: which comparisons one correction covers
            (:data:`~bo_transfer.analysis.stats.FAMILIES`).
        correction: ``holm`` or ``bh``.
        methods: report only these methods (row labels) and the baseline;
            all by default.
        highlight: methods drawn bold (every other faded) in the figures.
        title: the page's title.
    """
    if methods is not None:
        keep = set(methods) | {baseline}
        df = df[df[C.METHOD].isin(keep)]
        if failed is not None:
            failed = failed[failed[C.METHOD].isin(keep)]
    judge = dict(margin=margin, failed=failed, family=family, correction=correction)
    table = summarize(df, baseline, metric, alpha, **judge)
    tables_at = {b: summarize(df, baseline, metric, alpha, budget=b, **judge) for b in at}
    diagnostics = pair_diagnostics(df)
    # The table's methods include those whose every run failed (no row in df).
    styles = method_styles(sorted(set(df[C.METHOD]) | set(table[C.METHOD])), highlight)

    labels = df.groupby(C.METHOD)["method_name"].first() if "method_name" in df else None
    method_names = dict(labels.items()) if labels is not None else {m: m for m in table[C.METHOD]}
    refs = cit.references(method_names, sorted(df[C.FAMILY].unique()))

    per_run = charge_failures(run_metrics(df), failed)
    diffs = paired_differences(per_run, baseline, metric)
    crossings = break_even(diffs, diagnostics)
    caption = table_caption(
        table,
        diffs,
        int(df[C.ITERATION].max()),
        baseline,
        metric,
        alpha,
        margin,
        family,
        correction,
    )
    by_method = (
        method_verdicts(per_run, baseline, metric, alpha, correction)
        if baseline in set(per_run[C.METHOD])
        else pd.DataFrame()
    )
    facts = summary_facts(df, table, baseline, metric, alpha, family, correction, by_method)
    facts["title"] = title

    figures: dict[str, tuple[str, str, Figure]] = {}
    if baseline in set(table[C.METHOD]) and (table["verdict"] != "baseline").any():
        figures["effect_heatmap"] = (
            "Where transfer helps and hurts",
            f"Each cell: a method (row) on a setting (column); colour = transfer gain, minus the "
            f"effect (Hodges-Lehmann estimate of the paired difference of the "
            f"{METRIC_WORDS[metric]} vs {baseline}): blue helped, red hurt, white no "
            f"difference. Mark = verdict: + positive, \u2212 negative, = equivalent, none "
            f"inconclusive. One panel per correlation grid, correlations in numeric order; "
            f"methods by their median gain, best on top.",
            plot_effect_heatmap(table, styles),
        )
    if baseline in set(table[C.METHOD]) and diagnostics.get("pearson", pd.Series()).notna().any():
        figures["transfer_gain"] = (
            "Transfer gain vs correlation",
            f"One panel per method. Gain = minus the effect vs {baseline} (log10 units of the "
            f"{METRIC_WORDS[metric]}); above the dashed zero line transfer helped, below it "
            f"hurt. Band (a correlation grid, one line style per grid) or whisker (an unrelated "
            f"pair, a point alone): the effect's 95% interval. Filled markers: significant "
            f"verdicts. Diamond on the zero line: the break-even correlation, below which the "
            f"method hurt, with its 95% bootstrap interval in its grid's line style. "
            f"Correlation: the mean over a pair's sources (and, when a pair has several, its "
            f"worst source in a second block), the median over the instances of an "
            f"instance=seed pair.",
            plot_transfer_gain(table, diagnostics, styles=styles, break_even=crossings),
        )
    bands = f"interquartile band of {baseline}" + (
        " and of " + ", ".join(highlight) if highlight else ""
    )
    figures["regret_curves"] = (
        "Regret curves",
        f"Normalized regret (median over seeds; the {bands}), log scale. Correlation grids "
        f"row by row, correlations in numeric order.",
        plot_regret(df, styles=styles, baseline=baseline),
    )
    figures["mean_rank"] = (
        "Mean rank over iterations",
        "Rank by best regret so far within each pair and seed (1 = best), averaged; the "
        "legend lists methods by their final mean rank.",
        plot_mean_rank(df, styles=styles),
    )
    cd, cd_note = None, ""
    try:
        analysis = critical_difference(df, metric=metric, alpha=alpha)
    except ValueError as exc:
        cd_note = f"No critical-difference diagram: {exc}."
    else:
        if analysis.omitted_because:
            cd_note = f"No critical-difference diagram: {analysis.omitted_because}."
        else:
            cd = analysis
    if cd is not None:
        for key in cit.RANKING_KEYS:
            refs.entries.setdefault(key, cit.library()[key])
        figures["critical_difference"] = (
            "Critical difference",
            f"Mean rank across {cd.n_blocks} pairs (1 = best); methods joined by a bar do not "
            f"differ significantly (Nemenyi, alpha {alpha:g}). Friedman p = {cd.friedman_p:.2g}. "
            f"Ranks depend on which methods are in the pool: adding or removing a method (e.g. "
            f"random, bounding-box, pooled-gp) can reorder two others; the verdict per method "
            f"compares each method with {baseline} alone.",
            plot_critical_difference(cd, styles=styles),
        )
    aggregates = method_aggregates(df, metric=metric)
    normalized = "random_normalized" in aggregates["measure"].iloc[0]
    dropped = zero_reference_pairs(df) if normalized else []
    methods_note = (
        f"Left out of the random-normalized IQM: {', '.join(dropped)} (random's median final "
        f"regret there is 0, so there is nothing to normalize by)."
        if dropped
        else ""
    )
    return Report(
        table=table,
        at=tables_at,
        methods=aggregates,
        diagnostics=diagnostics,
        cd=cd,
        cd_note=cd_note,
        refs=refs,
        caption=caption,
        figures=figures,
        methods_note=methods_note,
        break_even=crossings,
        styles=styles,
        facts=facts,
        method_verdicts=by_method,
        method_caption=method_caption(by_method, baseline, metric, alpha, correction),
        family=family_summary(table, family, correction, alpha),
    )
