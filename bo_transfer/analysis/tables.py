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
                "\u2212": "$-$",
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
    """The whole report table as a booktabs ``longtable`` (it breaks across
    pages; needs ``booktabs`` and ``longtable``): per pair, the lowest mean of
    the judged metric in bold (the metric the IQM, rank, effect and verdict
    use); the verdict as a marker ($+$ positive, $-$ negative transfer, $=$
    equivalent, ? inconclusive, ``base`` the baseline).

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
    text = tex_escape(caption)
    families = sorted({p.split(":")[0] for p in table[C.PAIR]})
    cited = [f"{tex_escape(f)}~{citations[f]}" for f in families if citations.get(f)]
    if cited:
        text += " Pair families: " + ", ".join(cited) + "."
    text = f"{text} {caption_tex}".strip()
    head = (
        rf"Pair & Method & Seeds & Final regret & Median & {metric} & IQM [95\% CI] & Rank "
        r"& Effect [95\% CI] & Wins & Verdict \\"
    )
    lines = [
        r"{\footnotesize",
        r"\setlength{\tabcolsep}{3pt}",
        r"\begin{longtable}{lllrrrrrrrc}",
    ]
    if text:
        lines.append(rf"\caption{{{text}}}\label{{{label}}} \\")
    lines += [r"\toprule", head, r"\midrule", r"\endfirsthead"]
    lines += [r"\toprule", head, r"\midrule", r"\endhead", r"\bottomrule", r"\endfoot"]
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
    lines += [r"\end{longtable}", "}"]
    return "\n".join(lines) + "\n"


def to_csv(table: pd.DataFrame) -> str:
    """The report CSV: contract columns first, then the extra statistics."""
    return table.to_csv(index=False)


def to_html(table: pd.DataFrame, pair: bool = True) -> str:
    """An HTML ``<table>`` of the report (the Markdown table's columns; without
    the pair column when ``pair`` is False), each row classed by its verdict
    so a page can color negative transfer; pair names wrap between their
    parameters."""
    skip = 0 if pair else 1
    names = header(table)[skip:]
    head = "".join(
        f"<th{' class=name' if h == 'pair' else ''}>{html.escape(h)}</th>" for h in names
    )
    body = []
    for (_, r), cells in zip(table.iterrows(), _rows(table)):
        tds = [f"<td>{html.escape(c)}</td>" for c in cells[skip:]]
        if pair:
            tds[0] = f'<td class="name">{breakable(cells[0])}</td>'
        body.append(f'<tr class="{html.escape(r["verdict"])}">{"".join(tds)}</tr>')
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


def human(v: float, digits: int = 2) -> str:
    """A number as a reader wants it: ``0`` for zero (and for rounding noise
    such as ``6.94e-18``), a true minus sign, ``digits`` significant digits
    in plain notation from 0.0001 to 10,000 (a number of more integer
    digits keeps them all, thousands separated), else
    ``1.2e-05`` style; ``–`` for a missing value."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "\u2013"
    v = float(v)
    if math.isinf(v):
        return "\u221e" if v > 0 else "\u2212\u221e"
    if abs(v) < 1e-12:
        return "0"
    if 1e-4 <= abs(v) < 1e4:
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(v))))
        text = f"{v:,.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        text = f"{v:.{digits - 1}e}"
    return text.replace("-", "\u2212")


def p_text(p: float) -> str:
    """A p-value as a reader wants it: two significant digits, ``<0.0001``
    below that (never ``0``: no p is zero)."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "\u2013"
    return "<0.0001" if p < 1e-4 else human(p)


def fixed(v: float, decimals: int = 2) -> str:
    """A number at fixed decimals, for a column of effects to read down:
    a true minus sign, ``0.00`` never signed; ``–`` when missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "\u2013"
    text = f"{float(v):.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "\u2212")


#: Verdict marks of the pivot tables (the caption explains them).
PIVOT_MARK = {"positive": "+", "negative": "\u2212", "equivalent": "=", "untestable": "n/a"}


def pivot(table: pd.DataFrame) -> tuple[list[str], list[tuple[str, list[tuple[str, str]]]]]:
    """The compact table's shape: methods (not the baseline; by median effect,
    best first) and the settings grouped as :func:`~bo_transfer.analysis.figures.setting_layout`
    groups them (a group per correlation grid, in numeric order)."""
    from bo_transfer.analysis.figures import setting_layout

    rows = table[table["verdict"] != "baseline"]
    order = rows.groupby(C.METHOD)["effect"].median().sort_values(kind="stable")
    methods = list(order.index) + sorted(set(rows[C.METHOD]) - set(order.index))
    return methods, setting_layout(table[C.PAIR].unique())


def _cells(table: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    return {(r[C.METHOD], r[C.PAIR]): r for _, r in table.iterrows()}


def breakable(text: str) -> str:
    """``text`` escaped for HTML, breakable after its commas, semicolons and
    colons only (a pair name wraps between its parameters, never one
    character a line)."""
    out = html.escape(text)
    for sep in (",", ";", ":"):
        out = out.replace(sep, sep + "<wbr>")
    return out


def pivot_html(table: pd.DataFrame) -> str:
    """Methods x settings: each cell the effect (method minus baseline, log10;
    negative = better) with its verdict as colour (the cell's class) and mark."""
    methods, layout = pivot(table)
    cells = _cells(table)
    top = ["<th></th>"]
    second = ["<th>method</th>"]
    for title, group in layout:
        # A grid's columns differ in one knob: its name once in the group's
        # heading, the values alone in the columns' (narrow columns).
        knobs = {label.partition("=")[0] for _, label in group}
        short = bool(title) and len(knobs) == 1 and all("=" in lab for _, lab in group)
        heading = f"{title}; {knobs.pop()} =" if short else title
        top.append(f'<th colspan="{len(group)}" class="group">{breakable(heading)}</th>')
        second += [
            f"<th>{breakable(label.partition('=')[2] if short else label)}</th>"
            for _, label in group
        ]
    body = []
    for m in methods:
        tds = [f'<td class="method">{html.escape(m)}</td>']
        for _, group in layout:
            for pair, _ in group:
                r = cells.get((m, pair))
                if r is None:
                    tds.append("<td></td>")
                    continue
                mark = PIVOT_MARK.get(r["verdict"], "")
                title = html.escape(f"{pair} / {m}: {r['verdict']}")
                tds.append(
                    f'<td class="{html.escape(r["verdict"])}" title="{title}">'
                    f"{fixed(r['effect'])}<b>{html.escape(mark)}</b></td>"
                )
        body.append(f"<tr>{''.join(tds)}</tr>")
    head = f"<tr>{''.join(top)}</tr>" if any(t for t, _ in layout) else ""
    return (
        f'<table class="report pivot"><thead>{head}<tr>{"".join(second)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def pivot_latex(
    table: pd.DataFrame, caption: str, label: str = "tab:transfer-pivot", caption_tex: str = ""
) -> str:
    """The compact table for a paper: settings as rows (grouped by grid), methods
    as columns with rotated names, each cell the effect with its verdict as a
    superscript mark and in bold when significant. Shrunk to the line width
    when wider (needs ``booktabs`` and ``graphicx``)."""
    methods, layout = pivot(table)
    cells = _cells(table)
    marks = {"positive": "$^{+}$", "negative": "$^{-}$", "equivalent": "$^{=}$"}
    spec = "l" + "r" * len(methods)
    head = " & ".join(["Setting"] + [rf"\rotatebox{{90}}{{{tex_escape(m)}}}" for m in methods])
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        head + r" \\",
    ]
    for title, group in layout:
        lines.append(r"\midrule")
        if title:
            lines.append(
                rf"\multicolumn{{{len(methods) + 1}}}{{l}}{{\emph{{{tex_escape(title)}}}}} \\"
            )
        for pair, setting in group:
            row = [tex_escape(setting)]
            for m in methods:
                r = cells.get((m, pair))
                if r is None:
                    row.append("")
                    continue
                value = _num(r["effect"], 2) + marks.get(r["verdict"], "")
                if r["verdict"] in ("positive", "negative"):
                    value = rf"\textbf{{{value}}}"
                row.append(value)
            lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}}"]
    text = f"{tex_escape(caption)} {caption_tex}".strip()
    lines += [rf"\caption{{{text}}}", rf"\label{{{label}}}", r"\end{table}"]
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
