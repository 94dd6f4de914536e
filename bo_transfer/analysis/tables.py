"""Report tables as text: Markdown, LaTeX (booktabs), CSV and HTML. Pure functions."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import pandas as pd

from bo_transfer import columns as C

#: Verdict markers of the LaTeX table (the caption explains them).
TEX_MARK = {"positive": "$+$", "negative": "$-$", "neutral": r"$\circ$", "baseline": "base"}


def _fmt(v: float, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:.2e}"


def _ci(r: pd.Series, name: str) -> str:
    return (
        f"{_fmt(r[f'{name}_iqm'])} [{_fmt(r[f'{name}_iqm_lo'], 2)}, {_fmt(r[f'{name}_iqm_hi'], 2)}]"
    )


HEADER = [
    "pair",
    "method",
    "seeds",
    "final regret (mean ± se)",
    "median",
    "IQM [95% CI]",
    "AUC log10",
    "rank",
    "effect",
    "P(better)",
    "p",
    "verdict",
]


def _rows(table: pd.DataFrame) -> list[list[str]]:
    return [
        [
            r[C.PAIR],
            r[C.METHOD],
            str(int(r["n_seeds"])),
            f"{_fmt(r['final_regret_mean'])} ± {_fmt(r['final_regret_se'], 2)}",
            _fmt(r["final_regret_median"]),
            _ci(r, "final_regret"),
            _fmt(r["auc_mean"]),
            f"{r['mean_rank']:.2f}",
            _fmt(r["effect"], 2),
            _fmt(r["p_improve"], 2),
            _fmt(r["p_value"], 2),
            r["verdict"],
        ]
        for _, r in table.iterrows()
    ]


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of the report."""
    rows = _rows(table)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
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
    s = _fmt(v, digits)
    return "$-$" + s[1:] if s.startswith("-") and s != "-" else s


def to_latex(
    table: pd.DataFrame,
    caption: str = "",
    citations: Mapping[str, str] | None = None,
    label: str = "tab:transfer",
    caption_tex: str = "",
) -> str:
    """A booktabs LaTeX table: per pair, the best final regret (mean) and the
    best AUC in bold; the verdict as a marker ($+$ positive, $-$ negative
    transfer, $\\circ$ neutral, ``base`` the baseline).

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
    best_final = table.groupby(C.PAIR)["final_regret_mean"].transform("min")
    best_auc = table.groupby(C.PAIR)["auc_mean"].transform("min")
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{llrrrrrrrc}",
        r"\toprule",
        r"Pair & Method & Final regret & Median & IQM [95\% CI] & AUC & Rank & Effect "
        r"& $P(\mathrm{better})$ & Verdict \\",
        r"\midrule",
    ]
    previous = None
    for i, (_, r) in enumerate(table.iterrows()):
        if previous is not None and r[C.PAIR] != previous:
            lines.append(r"\midrule")
        pair = tex_escape(r[C.PAIR]) if r[C.PAIR] != previous else ""
        previous = r[C.PAIR]
        final = f"{_num(r['final_regret_mean'])} $\\pm$ {_num(r['final_regret_se'], 2)}"
        auc = _num(r["auc_mean"])
        if r["final_regret_mean"] == best_final.iloc[i]:
            final = rf"\textbf{{{final}}}"
        if r["auc_mean"] == best_auc.iloc[i]:
            auc = rf"\textbf{{{auc}}}"
        method = tex_escape(r[C.METHOD])
        if citations.get(r[C.METHOD]):
            method += "~" + citations[r[C.METHOD]]
        ci = (
            f"{_num(r['final_regret_iqm'])} [{_num(r['final_regret_iqm_lo'], 2)}, "
            f"{_num(r['final_regret_iqm_hi'], 2)}]"
        )
        lines.append(
            f"{pair} & {method} & {final} & {_num(r['final_regret_median'])} & {ci} & {auc} & "
            f"{r['mean_rank']:.2f} & {_num(r['effect'], 2)} & {_num(r['p_improve'], 2)} & "
            f"{TEX_MARK[r['verdict']]} \\\\"
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
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = []
    for (_, r), cells in zip(table.iterrows(), _rows(table)):
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        body.append(f'<tr class="{html.escape(r["verdict"])}">{tds}</tr>')
    return (
        f'<table class="report"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
