"""Report tables as text: Markdown, LaTeX (booktabs), CSV and HTML. Pure functions."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import pandas as pd

from bo_transfer import columns as C

#: Verdict markers of the LaTeX table (the caption explains them).
TEX_MARK = {
    "positive": "$+$",
    "negative": "$-$",
    "equivalent": "$=$",
    "inconclusive": "?",
    "untestable": "n/a",
    "baseline": "base",
}
#: Column heading of the judged metric's mean, by ``metric``.
METRIC_HEADINGS = {"auc": "AUC log10", "final": "final log10 regret"}


def _fmt(v: float, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}g}" if abs(v) < 1e4 or math.isinf(v) else f"{v:.2e}"


def _metric(table: pd.DataFrame) -> str:
    return str(table["metric"].iloc[0]) if len(table) and "metric" in table else "auc"


def header(table: pd.DataFrame) -> list[str]:
    """The Markdown and HTML table's column headings."""
    return [
        "pair",
        "method",
        "seeds",
        "final regret (mean ± se)",
        "median",
        METRIC_HEADINGS[_metric(table)],
        "IQM [95% CI]",
        "rank",
        "effect [95% CI]",
        "wins",
        "p",
        "verdict",
    ]


def _seeds(r: pd.Series) -> str:
    """``n_seeds``, and when the cell lost seeds, how: ``9 (8 paired, 1 failed)``."""
    notes = []
    if r["verdict"] != "baseline" and r["n_paired"] < r["n_seeds"]:
        notes.append(f"{int(r['n_paired'])} paired")
    if r["n_failed"]:
        notes.append(f"{int(r['n_failed'])} failed")
    return f"{int(r['n_seeds'])}" + (f" ({', '.join(notes)})" if notes else "")


def _rank(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.2f}"


def _interval(point: float, lo: float, hi: float, fmt=_fmt) -> str:
    if point is None or (isinstance(point, float) and math.isnan(point)):
        return fmt(point)
    return f"{fmt(point)} [{fmt(lo, 2)}, {fmt(hi, 2)}]"


def _rows(table: pd.DataFrame) -> list[list[str]]:
    return [
        [
            r[C.PAIR],
            r[C.METHOD],
            _seeds(r),
            f"{_fmt(r['final_regret_mean'])} ± {_fmt(r['final_regret_se'], 2)}",
            _fmt(r["final_regret_median"]),
            _fmt(r["metric_mean"]),
            _interval(r["metric_iqm"], r["metric_iqm_lo"], r["metric_iqm_hi"]),
            _rank(r["mean_rank"]),
            _interval(r["effect"], r["effect_lo"], r["effect_hi"]),
            _fmt(r["win_rate"], 2),
            _fmt(r["p_value"], 2),
            r["verdict"],
        ]
        for _, r in table.iterrows()
    ]


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of the report."""
    rows, head = _rows(table), header(table)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


def tex_escape(s: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    out = []
    for ch in s:
        out.append(
            {
                "\\": r"\textbackslash{}",
                "_": r"\_",
                "%": r"\%",
                "&": r"\&",
                "#": r"\#",
                "$": r"\$",
                "{": r"\{",
                "}": r"\}",
                "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}",
                "±": r"$\pm$",
            }.get(ch, ch)
        )
    return "".join(out)


def _num(v: float, digits: int = 3) -> str:
    # A hyphen is not a minus sign in text mode.
    if isinstance(v, float) and math.isinf(v):
        return r"$\infty$" if v > 0 else r"$-\infty$"
    s = _fmt(v, digits)
    return "$-$" + s[1:] if s.startswith("-") and s != "-" else s


def to_latex(
    table: pd.DataFrame,
    caption: str = "",
    citations: Mapping[str, str] | None = None,
    label: str = "tab:transfer",
    caption_tex: str = "",
) -> str:
    """A booktabs LaTeX table: per pair, the lowest mean of the judged metric
    in bold (the metric the IQM, rank, effect and verdict use); the verdict as
    a marker ($+$ positive, $-$ negative transfer, $=$ equivalent, ? inconclusive,
    ``base`` the baseline).

    Args:
        table: the report table of :func:`~bo_transfer.analysis.summarize`.
        caption: plain text (escaped here).
        citations: method label or pair family -> ``\\cite{...}`` (raw LaTeX):
            methods are cited next to their name, families at the end of the
            caption.
        label: the ``\\label`` of the table.
        caption_tex: raw LaTeX appended to the caption (e.g. citations of the
            statistics).
    """
    citations = citations or {}
    best = table.groupby(C.PAIR)["metric_mean"].transform("min")
    metric = tex_escape(METRIC_HEADINGS[_metric(table)])
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{lllrrrrrrrc}",
        r"\toprule",
        rf"Pair & Method & Seeds & Final regret & Median & {metric} & IQM [95\% CI] & Rank "
        r"& Effect [95\% CI] & Wins & Verdict \\",
        r"\midrule",
    ]
    previous = None
    for i, (_, r) in enumerate(table.iterrows()):
        if previous is not None and r[C.PAIR] != previous:
            lines.append(r"\midrule")
        pair = tex_escape(r[C.PAIR]) if r[C.PAIR] != previous else ""
        previous = r[C.PAIR]
        final = f"{_num(r['final_regret_mean'])} $\\pm$ {_num(r['final_regret_se'], 2)}"
        mean = _num(r["metric_mean"])
        if r["metric_mean"] == best.iloc[i]:
            mean = rf"\textbf{{{mean}}}"
        method = tex_escape(r[C.METHOD])
        if citations.get(r[C.METHOD]):
            method += "~" + citations[r[C.METHOD]]
        iqm = _interval(r["metric_iqm"], r["metric_iqm_lo"], r["metric_iqm_hi"], _num)
        effect = _interval(r["effect"], r["effect_lo"], r["effect_hi"], _num)
        lines.append(
            f"{pair} & {method} & {tex_escape(_seeds(r))} & {final} & "
            f"{_num(r['final_regret_median'])} & {mean} & {iqm} & {_rank(r['mean_rank'])} & "
            f"{effect} & {_num(r['win_rate'], 2)} & {TEX_MARK[r['verdict']]} \\\\"
        )
    lines += [r"\bottomrule", r"\end{tabular}"]
    text = tex_escape(caption)
    families = sorted({p.split(":")[0] for p in table[C.PAIR]})
    cited = [f"{tex_escape(f)}~{citations[f]}" for f in families if citations.get(f)]
    if cited:
        text += " Pair families: " + ", ".join(cited) + "."
    text = f"{text} {caption_tex}".strip()
    if text:
        lines.append(rf"\caption{{{text.strip()}}}")
    lines += [rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_csv(table: pd.DataFrame) -> str:
    """The report CSV: contract columns first, then the extra statistics."""
    return table.to_csv(index=False)


def to_html(table: pd.DataFrame) -> str:
    """An HTML ``<table>`` of the report (the Markdown table's columns), each
    row classed by its verdict so a page can color negative transfer."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header(table))
    body = []
    for (_, r), cells in zip(table.iterrows(), _rows(table)):
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        body.append(f'<tr class="{html.escape(r["verdict"])}">{tds}</tr>')
    return (
        f'<table class="report"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def break_even_markdown(frame: pd.DataFrame) -> str:
    """The break-even correlations as a Markdown table (one row per grid and method)."""
    from bo_transfer.analysis.break_even import describe

    head = ["grid", "method", "correlations", "break-even correlation [95% CI]"]
    rows = [[r["grid"], r["method"], str(r["n_points"]), describe(r)] for _, r in frame.iterrows()]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + [line(r) for r in rows]) + "\n"


def break_even_latex(frame: pd.DataFrame, caption: str, label: str = "tab:break-even") -> str:
    """The break-even correlations as a booktabs LaTeX table."""
    from bo_transfer.analysis.break_even import describe

    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{llrl}",
        r"\toprule",
        r"Grid & Method & Correlations & Break-even correlation [95\% CI] \\",
        r"\midrule",
    ]
    previous = None
    for _, r in frame.iterrows():
        if previous is not None and r["grid"] != previous:
            lines.append(r"\midrule")
        grid = tex_escape(r["grid"]) if r["grid"] != previous else ""
        previous = r["grid"]
        lines.append(
            f"{grid} & {tex_escape(r['method'])} & {r['n_points']} & {tex_escape(describe(r))} \\\\"
        )
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{tex_escape(caption)}}}"]
    lines += [rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


#: Columns of the verdict per method as tables show them: (heading, format).
_METHOD_VERDICT_CELLS = [
    ("method", lambda r: r[C.METHOD]),
    ("settings", lambda r: str(int(r["n_settings"]))),
    (
        "paired seeds",
        lambda r: (
            f"{int(r['n_paired'])}" + (f" ({int(r['n_failed'])} failed)" if r["n_failed"] else "")
        ),
    ),
    ("POI [95% CI]", lambda r: _interval(r["poi"], r["poi_lo"], r["poi_hi"])),
    ("p", lambda r: _fmt(r["p_value"], 2)),
    ("verdict", lambda r: r["verdict"]),
]


def method_verdicts_markdown(frame: pd.DataFrame) -> str:
    """The verdict per method (:func:`~bo_transfer.analysis.method_level.method_verdicts`)
    as a Markdown table."""
    head = [h for h, _ in _METHOD_VERDICT_CELLS]
    rows = [[f(r) for _, f in _METHOD_VERDICT_CELLS] for _, r in frame.iterrows()]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + [line(r) for r in rows]) + "\n"


def method_verdicts_latex(
    frame: pd.DataFrame, caption: str, label: str = "tab:method-verdicts"
) -> str:
    """The verdict per method as a booktabs LaTeX table."""
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{lrrlrc}",
        r"\toprule",
        r"Method & Settings & Paired seeds & POI [95\% CI] & $p$ & Verdict \\",
        r"\midrule",
    ]
    for _, r in frame.iterrows():
        cells = [tex_escape(f(r)) for _, f in _METHOD_VERDICT_CELLS[:3]]
        cells.append(_interval(r["poi"], r["poi_lo"], r["poi_hi"], _num))
        cells += [_num(r["p_value"], 2), TEX_MARK[r["verdict"]]]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{tex_escape(caption)}}}"]
    lines += [rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"
