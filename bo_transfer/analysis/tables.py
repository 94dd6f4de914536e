"""Report tables as text: Markdown, LaTeX (booktabs) and CSV. Pure functions."""

from __future__ import annotations

import math

import pandas as pd

from bo_transfer import columns as C

_MARK = {"positive": "+", "negative": "-", "neutral": "", "baseline": "(base)"}


def _fmt(v: float, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:.2e}"


def _rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = [
        "pair",
        "method",
        "seeds",
        "final regret (mean ± se)",
        "median",
        "AUC log10",
        "rank",
        "p",
        "verdict",
    ]
    rows = [
        [
            r[C.PAIR],
            r[C.METHOD],
            str(int(r["n_seeds"])),
            f"{_fmt(r['final_regret_mean'])} ± {_fmt(r['final_regret_se'], 2)}",
            _fmt(r["final_regret_median"]),
            _fmt(r["auc_mean"]),
            f"{r['mean_rank']:.2f}",
            _fmt(r["p_value"], 2),
            r["verdict"],
        ]
        for _, r in table.iterrows()
    ]
    return header, rows


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of the report."""
    header, rows = _rows(table)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


def _tex(s: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
    ):
        s = s.replace(a, b)
    return s


def to_latex(table: pd.DataFrame, caption: str = "") -> str:
    """A booktabs LaTeX table; the best final regret per pair in bold and the
    verdict as a marker (+ positive, - negative transfer)."""
    best = table.groupby(C.PAIR)["final_regret_mean"].transform("min")
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{llrrrrl}",
        r"\toprule",
        r"Pair & Method & Final regret & Median & AUC & Rank & Verdict \\",
        r"\midrule",
    ]
    previous = None
    for (_, r), is_best in zip(table.iterrows(), table["final_regret_mean"] == best):
        if previous is not None and r[C.PAIR] != previous:
            lines.append(r"\midrule")
        pair = _tex(r[C.PAIR]) if r[C.PAIR] != previous else ""
        previous = r[C.PAIR]
        regret = f"{_fmt(r['final_regret_mean'])} $\\pm$ {_fmt(r['final_regret_se'], 2)}"
        if is_best:
            regret = rf"\textbf{{{regret}}}"
        lines.append(
            f"{pair} & {_tex(r[C.METHOD])} & {regret} & {_fmt(r['final_regret_median'])} & "
            f"{_fmt(r['auc_mean'])} & {r['mean_rank']:.2f} & {_tex(_MARK[r['verdict']])} \\\\"
        )
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{_tex(caption)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False)
