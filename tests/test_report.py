"""The report's files: LaTeX that compiles, a page a browser renders, the BibTeX
of every method and family in the table, and the ``report`` command's flags."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REGISTERED_METHODS
from scipy import stats

from bo_transfer import columns as C
from bo_transfer.analysis import (
    add_regret,
    build_report,
    critical_difference,
    references,
    to_latex,
)
from bo_transfer.analysis.citations import library, parse_bibtex
from bo_transfer.analysis.signed_rank import detectable_shift
from bo_transfer.cli import main
from bo_transfer.methods import METHODS, Method
from bo_transfer.problems import FAMILIES

RESULTS = Path(__file__).parent.parent / "results"

METHOD_NAMES = {
    "random": "random",
    "cold-gp": "cold-gp",
    "prior-mean": "prior-mean",
    "init": "init-transfer",
}


@pytest.fixture(scope="module")
def sweep_frame() -> pd.DataFrame:
    """A synthetic sweep: 6 gp pairs of known correlation, 4 methods, 10 seeds;
    prior-mean helps at positive and hurts at negative correlation."""
    rng = np.random.default_rng(0)
    rows = []
    for rho in (-0.9, -0.6, -0.3, 0.3, 0.6, 0.9):
        pair = f"gp:rho={rho},dim=2,lengthscale=0.2,instance=0"
        for label, shift in (
            ("random", 0.6),
            ("cold-gp", 0.0),
            ("prior-mean", -1.5 * rho),
            ("init", -0.2),
        ):
            for seed in range(10):
                ys = 10 ** (shift + rng.normal(0, 0.2) - 0.15 * np.arange(1, 9))
                for it, y in enumerate(ys, start=1):
                    rows.append(
                        {
                            C.PAIR: pair,
                            C.FAMILY: "gp",
                            C.METHOD: label,
                            "method_name": METHOD_NAMES[label],
                            C.SEED: seed,
                            C.ITERATION: it,
                            C.Y: y,
                            C.RUN_KEY: f"{pair}/{label}/{seed}",
                            C.OPTIMAL_VALUE: 0.0,
                            "value_range": 1.0,
                            "pearson": rho,
                            "spearman": rho,
                            "optimum_distance": 0.1,
                            "n_sources": 1,
                        }
                    )
    return add_regret(pd.DataFrame(rows))


@pytest.fixture(scope="module")
def written(sweep_frame, tmp_path_factory):
    report = build_report(sweep_frame, baseline="cold-gp", at=(4,))
    out = tmp_path_factory.mktemp("report")
    report.write(out)
    return report, out


def test_report_writes_every_file(written):
    report, out = written
    stems = ("regret_curves", "mean_rank", "transfer_gain", "critical_difference")
    names = ["table.md", "table.tex", "table.csv", "table_at.csv", "references.bib", "index.html"]
    names += [f"{s}.{e}" for s in stems for e in ("png", "pdf")]
    for name in names:
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "table.csv")
    assert list(table.columns[: len(C.REPORT_COLUMNS)]) == C.REPORT_COLUMNS
    verdict = table.set_index([C.PAIR, C.METHOD])["verdict"]
    assert verdict[("gp:rho=0.9,dim=2,lengthscale=0.2,instance=0", "prior-mean")] == "positive"
    assert verdict[("gp:rho=-0.9,dim=2,lengthscale=0.2,instance=0", "prior-mean")] == "negative"
    at = pd.read_csv(out / "table_at.csv")
    assert set(at["budget"]) == {4} and len(at) == len(table)
    md = (out / "table.md").read_text()
    assert "## At 4 evaluations" in md and "Wilcoxon" in md


def test_caption_states_margin_tolerance_and_smallest_detectable_effect(sweep_frame, written):
    report, _ = written
    caption = report.caption
    assert "±0.1 log10 units (the margin)" in caption and "within 1e-06 log10 units" in caption
    # 10 seeds, 3 tested cells per setting: the shift is detectable_shift's
    shift = detectable_shift(10, 0.05 / 3)
    assert (
        f"with 10 paired seeds and 3 tested cells per setting, a shift of {shift:.2f} standard"
        in caption
    )
    assert "charged" not in caption
    # the family and what it means for the whole table: 6 settings x 0.05
    assert "Holm-corrected within each setting" in caption
    assert "Error control is per setting" in caption and "6 x 0.05 = 0.3 false verdicts" in caption
    whole = build_report(sweep_frame, family="table", correction="bh").caption
    assert "Benjamini-Hochberg-corrected over the whole table" in whole
    assert "1 x 0.05 = 0.05 false verdicts" in whole
    # 6 seeds, 3 cells: 2^(1-6) = 0.031 > 0.05/3, and 2^(1-7) < 0.05/3
    few = build_report(sweep_frame[sweep_frame[C.SEED] < 6])
    assert set(few.table["verdict"]) <= {"baseline", "equivalent", "inconclusive"}
    assert (
        "With 6 paired seeds and 3 tested cells per setting no difference can be detected"
        in few.caption
    )
    assert "7 or more seeds are needed" in few.caption
    wide = build_report(sweep_frame, margin=0.5)
    assert "±0.5 log10 units" in wide.caption


def test_verdict_per_method_leads_the_report(written):
    report, out = written
    assert report.markdown().startswith("## Verdict per method")
    page = report.html()
    assert page.index("verdict across settings") < page.index('id="settings"')
    assert report.latex().index("tab:method-verdicts") < report.latex().index("tab:transfer")
    assert report.family["family"] == "setting" and report.family["n_families"] == 6
    on_disk = pd.read_csv(out / "method_verdicts.csv")
    pd.testing.assert_frame_equal(on_disk, report.method_verdicts, check_dtype=False)
    assert (
        "Ranks depend on which methods are in the pool" in report.figures["critical_difference"][1]
    )


def test_failed_runs_are_charged_not_dropped(sweep_frame):
    """A failed run counts as normalized regret 1 (log10 regret 0) on its seed:
    no cell loses a seed, and ``n_failed`` counts the charged runs."""
    pair = "gp:rho=0.9,dim=2,lengthscale=0.2,instance=0"
    # the baseline failed on seed 0 and prior-mean on seeds 0-1 of one pair
    lost = ((sweep_frame[C.PAIR] == pair) & (sweep_frame[C.SEED] == 0)) & (
        sweep_frame[C.METHOD].isin(["cold-gp", "prior-mean"])
    )
    lost |= (
        (sweep_frame[C.PAIR] == pair)
        & (sweep_frame[C.SEED] == 1)
        & (sweep_frame[C.METHOD] == "prior-mean")
    )
    failed = sweep_frame.loc[lost, [C.PAIR, C.METHOD, C.SEED]].drop_duplicates()
    report = build_report(sweep_frame[~lost], failed=failed)
    t = report.table.set_index([C.PAIR, C.METHOD])
    assert tuple(t.loc[(pair, "cold-gp"), ["n_seeds", "n_paired", "n_failed"]]) == (9, 10, 1)
    assert tuple(t.loc[(pair, "prior-mean"), ["n_seeds", "n_paired", "n_failed"]]) == (8, 10, 2)
    # init lost nothing itself and stays paired on seed 0 with the charged baseline
    assert tuple(t.loc[(pair, "init"), ["n_seeds", "n_paired", "n_failed"]]) == (10, 10, 0)
    assert (
        f"Failed or missing runs, charged normalized regret 1 (not dropped): {pair} / cold-gp: "
        f"1 of 10; {pair} / prior-mean: 2 of 10"
    ) in report.caption
    assert "8 (2 failed)" in report.markdown()
    # the same runs missing from an export (no failed list) are charged alike
    from_export = build_report(sweep_frame[~lost]).table.set_index([C.PAIR, C.METHOD])
    pd.testing.assert_frame_equal(from_export, t)
    # a method whose every run failed on a pair keeps its row and is judged
    failed_all = pd.DataFrame({C.PAIR: pair, C.METHOD: "broken", C.SEED: range(10)})
    t = build_report(sweep_frame, failed=failed_all).table.set_index([C.PAIR, C.METHOD])
    row = t.loc[(pair, "broken")]
    assert (row["n_seeds"], row["n_paired"], row["n_failed"]) == (0, 10, 10)
    assert row["verdict"] == "negative"


def test_critical_difference_is_drawn_only_when_it_can_say_something(sweep_frame):
    # Friedman rejects at 6 pairs (p = 0.035) and CD 1.91 < 3: drawn
    report = build_report(sweep_frame)
    assert report.cd is not None and "critical_difference" in report.figures
    # 4 pairs: Friedman does not reject (p = 0.098): omitted, and the report says why
    four = sweep_frame[~sweep_frame[C.PAIR].str.contains("0.6")]
    report = build_report(four)
    assert report.cd is None and "critical_difference" not in report.figures
    assert "Friedman test does not reject" in report.cd_note
    assert report.cd_note in report.markdown() and report.cd_note in report.html()


def test_critical_difference_is_omitted_where_no_gap_can_reach_it():
    """10 methods ranked identically on 2 pairs: Friedman rejects (chi2 = 18,
    p = 0.035), but the critical difference 9.58 exceeds the largest possible
    gap in mean rank (9): a diagram could never separate two methods."""
    rows = []
    for pair in ("gp:rho=0.5,dim=1", "gp:rho=0.6,dim=1"):
        for j in range(10):
            for seed in range(3):
                rows.append(
                    {
                        C.PAIR: pair,
                        C.FAMILY: "gp",
                        C.METHOD: f"m{j}",
                        C.SEED: seed,
                        C.ITERATION: 1,
                        C.Y: 10.0 ** (j - 10),
                        C.RUN_KEY: f"{pair}/{j}/{seed}",
                        C.OPTIMAL_VALUE: 0.0,
                        "value_range": 1.0,
                    }
                )
    df = add_regret(pd.DataFrame(rows))
    cd = critical_difference(df)
    assert cd.friedman_p == pytest.approx(stats.chi2.sf(18.0, 9)) and cd.friedman_p < 0.05
    assert cd.cd > 9
    report = build_report(df, baseline="m0")
    assert report.cd is None and "largest possible gap in mean rank between 10 methods (9)" in (
        report.cd_note
    )


def test_transfer_gain_follows_correlation(written):
    """The figure's data: prior-mean's gain grows with the correlation."""
    report, _ = written
    rows = report.table[report.table[C.METHOD] == "prior-mean"].merge(report.diagnostics, on=C.PAIR)
    gain = -rows.sort_values("pearson")["effect"].to_numpy()
    assert np.all(np.diff(gain) > 0) and gain[0] < 0 < gain[-1]


def test_references_cover_every_method_and_family_in_the_table(written):
    report, out = written
    bib = parse_bibtex((out / "references.bib").read_text())
    tex = (out / "table.tex").read_text()
    cited = {k for group in re.findall(r"\\cite\{([^}]*)\}", tex) for k in group.split(",")}
    assert cited <= set(bib), cited - set(bib)
    for label, name in METHOD_NAMES.items():
        keys = [k.strip() for k in METHODS.get(name).bib_key.split(",")]
        assert set(keys) <= set(bib) and set(keys) <= cited, label
    assert set(FAMILIES.get("gp").bib_key.split(",")) <= cited
    assert {"wilcoxon1945individual", "holm1979simple", "demsar2006statistical"} <= set(bib)


def test_every_registered_bib_key_is_in_the_library():
    lib = library()
    for registry in (METHODS, FAMILIES):
        for name in registry.names():
            for key in filter(None, (k.strip() for k in registry.get(name).bib_key.split(","))):
                assert key in lib, f"{name}: {key}"


def test_an_entry_without_bibtex_falls_back_to_misc(monkeypatch):
    class Plain(Method):
        citation = "Doe. A {Method}. 2030"

    class Own(Method):
        citation = "Roe. Another. 2031"
        bibtex = "@article{roe2031another, title = {Another}, year = {2031}}"

    monkeypatch.setitem(METHODS._items, "plain-test", Plain)
    monkeypatch.setitem(METHODS._items, "own-test", Own)
    refs = references({"plain": "plain-test", "own": "own-test", "gone": "not-installed"}, [])
    assert refs.keys["plain"] == ["bo_transfer_method_plain_test"]
    assert "note = {Doe. A Method. 2030}" in refs.entries["bo_transfer_method_plain_test"]
    assert refs.keys["own"] == ["roe2031another"]
    assert refs.missing == ["gone"]
    assert set(parse_bibtex(refs.bibtex())) == set(refs.entries)


def latex_structure_errors(tex: str) -> list[str]:
    """A structural LaTeX check: environments nest, braces balance, and every
    row of every tabular and longtable has as many cells as its column spec
    (a ``\\multicolumn{n}`` counts as n)."""
    errors, stack = [], []
    body = re.sub(r"\\[{}%&$#_]", "", tex)
    if body.count("{") != body.count("}"):
        errors.append("unbalanced braces")
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", tex):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            errors.append(f"\\end{{{env}}} without its \\begin")
    errors += [f"\\begin{{{env}}} never ended" for env in stack]
    tables = re.findall(r"\\begin\{(tabular|longtable)\}\{([lrc]+)\}(.*?)\\end\{\1\}", tex, re.S)
    if not tables:
        errors.append("no tabular or longtable")
    for _, spec, inner in tables:
        for row in inner.split(r"\\")[:-1]:
            row = re.sub(r"\\(toprule|midrule|bottomrule|endfirsthead|endhead|endfoot)", "", row)
            row = re.sub(r"\\caption\{.*\}\\label\{[^}]*\}", "", row, flags=re.S).strip()
            spans = sum(int(n) - 1 for n in re.findall(r"\\multicolumn\{(\d+)\}", row))
            if row and row.count("&") - row.count(r"\&") + spans != len(spec) - 1:
                errors.append(f"row with wrong cell count: {row[:40]}")
    return errors


def test_latex_table_is_well_formed(written):
    report, out = written
    tex = (out / "table.tex").read_text()
    assert latex_structure_errors(tex) == []
    long = tex[tex.index(r"\begin{longtable}") :]
    assert long.count(r"\textbf{") == report.table[C.PAIR].nunique()
    assert r"\caption{Budget 8 evaluations, 10 seeds" in long
    for marker in ("$+$", "$-$", "base"):
        assert marker in long
    # the compact table first: a row per setting, a column per non-baseline method
    pivot = tex[: tex.index(r"\begin{longtable}")]
    assert r"\begin{tabular}{lrrr}" in pivot and r"\rotatebox{90}{prior-mean}" in pivot
    assert "rho=-0.9" in pivot and r"$^{-}$" in pivot and r"$^{+}$" in pivot
    # the checker itself catches a broken table
    assert latex_structure_errors(tex.replace(r"\end{tabular}", "", 1))
    assert latex_structure_errors(tex.replace(" & ", " ", 1))
    assert latex_structure_errors(long.replace(" & ", " ", 3))


def _pdflatex(tmp_path, body: str, options: str = "margin=1cm,landscape", bib: bool = True):
    """Compile ``body`` in an article with the packages table.tex needs (and
    its bibliography); returns the last pdflatex run's output."""
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs,longtable,graphicx}\n"
        f"\\usepackage[{options}]{{geometry}}\n\\begin{{document}}\n"
        + body
        + ("\\bibliographystyle{plain}\n\\bibliography{references}\n" if bib else "")
        + "\\end{document}\n"
    )

    def run(*cmd):
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    first = run("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex")
    assert first.returncode == 0, first.stdout[-2000:]
    last = first
    if bib and shutil.which("bibtex"):
        assert run("bibtex", "paper").returncode == 0
        run("pdflatex", "-interaction=nonstopmode", "paper.tex")
        last = run("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex")
        assert last.returncode == 0
        assert "undefined" not in last.stdout, last.stdout[-2000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 0
    return last.stdout


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_table_compiles_with_its_references(written, tmp_path):
    """Both tables compile with the bibliography; the long table breaks
    across pages (longtable)."""
    _, out = written
    shutil.copy(out / "references.bib", tmp_path)
    log = _pdflatex(tmp_path, (out / "table.tex").read_text())
    assert "Output written on paper.pdf" in log


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
@pytest.mark.parametrize("study", ["correlation", "literature"])
def test_committed_pivot_table_fits_a_portrait_page(study, tmp_path):
    """The committed studies' compact table (13 methods x 18 settings): one
    portrait page, nothing wider than the text."""
    tex = (RESULTS / study / "table.tex").read_text()
    pivot = tex[: tex.index(r"{\footnotesize")]
    out = _pdflatex(tmp_path, pivot, options="a4paper,margin=2.5cm", bib=False)
    log = (tmp_path / "paper.log").read_text()
    assert "(1 page" in out and "Overfull \\hbox" not in log and "Float too large" not in log


def test_to_latex_escapes_labels():
    table = pd.DataFrame(
        {
            C.PAIR: ["p_1:a=1"],
            C.METHOD: ["m&n%#"],
            "n_seeds": [3],
            "final_regret_mean": [0.1],
            "final_regret_se": [0.01],
            "final_regret_median": [0.1],
            "auc_mean": [-1.5],
            "mean_rank": [1.0],
            "p_value": [np.nan],
            "verdict": ["baseline"],
            "n_paired": [3],
            "n_failed": [0],
            "metric": ["auc"],
            "metric_mean": [-1.5],
            "metric_iqm": [-1.5],
            "metric_iqm_lo": [-2.0],
            "metric_iqm_hi": [-1.0],
            "effect": [np.nan],
            "effect_lo": [np.nan],
            "effect_hi": [np.nan],
            "win_rate": [np.nan],
        }
    )
    tex = to_latex(table, caption="50% of {x}")
    assert r"p\_1" in tex and r"m\&n\%\#" in tex and r"50\% of \{x\}" in tex
    assert "$-$1.5" in tex and latex_structure_errors(tex) == []


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Appended to a copy of the page: records, after load, how many images decoded.
CHECK = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  document.body.dataset.images = imgs.length;
  document.body.dataset.decoded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.tables = document.querySelectorAll('table').length;
});</script></html>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_index_html_renders_in_a_real_browser(written, tmp_path):
    report, out = written
    page = (out / "index.html").read_text()
    # self-contained: nothing fetched from anywhere
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</html>", CHECK))
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    result = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = result.stdout
    n_images = len(report.figures)
    assert f'data-images="{n_images}"' in dom, result.stderr[-2000:]
    assert f'data-decoded="{n_images}"' in dom
    n_tables = int(re.search(r'data-tables="(\d+)"', dom).group(1))
    assert n_tables >= 4  # verdicts, at 4 evaluations, methods, diagnostics
    assert 'class="negative"' in dom and "prior-mean" in dom


# Appended to a copy of the page: where the summary and the headline figure
# are, and whether anything is wider than the window (a table in its own
# scrolling box counts too).
LAYOUT = """<script>window.addEventListener('load', () => {
  const d = document.documentElement, b = document.body.dataset;
  const y = (el, side) => el ? Math.round(el.getBoundingClientRect()[side] + window.scrollY) : -1;
  b.summaryBottom = y(document.getElementById('summary'), 'bottom');
  b.headlineTop = y(document.querySelector('#when-transfer-hurts img'), 'top');
  b.overflow = d.scrollWidth - d.clientWidth;
  b.scrolling = [...document.querySelectorAll('.scroll')]
    .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
    .map(e => e.closest('section').id).join(' ') || 'none';
  b.imgs = [...document.images].filter(i => i.complete && i.naturalWidth > 0).length;
});</script></html>"""


def _browser(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,1500",
        "--virtual-time-budget=5000",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *args, page.as_uri()], capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
@pytest.mark.parametrize("which", ["synthetic", "correlation", "literature", "multisource"])
def test_report_page_answers_first_at_1400_px(which, written, tmp_path):
    """At 1400 px the summary and the headline figure are in the first
    1,500 px, and nothing is wider than the window. The screenshot of that
    first screen is kept as the test's output (its path printed)."""
    index = written[1] / "index.html" if which == "synthetic" else RESULTS / which / "index.html"
    probe = tmp_path / "probe.html"
    probe.write_text(index.read_text().replace("</html>", LAYOUT))
    dom = _browser(probe, tmp_path, "--dump-dom")
    facts = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', re.search(r"<body[^>]*>", dom.stdout)[0]))
    assert 0 < int(facts["summary-bottom"]) < 1500, facts
    assert 0 < int(facts["headline-top"]) < 1500, facts
    assert int(facts["overflow"]) <= 0 and facts["scrolling"] == "none", facts
    # Kept where CI collects test output (BO_TRANSFER_TEST_OUTPUT), else in tmp_path.
    keep = Path(os.environ.get("BO_TRANSFER_TEST_OUTPUT") or tmp_path)
    keep.mkdir(parents=True, exist_ok=True)
    shot = keep / f"screenshot-{which}.png"
    _browser(index, tmp_path, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_report_at_budgets_from_the_command_line(tiny_results, tmp_path, capsys):
    out = tmp_path / "r"
    code, stdout, _ = run_cli(capsys, "report", str(tiny_results), "--out", str(out), "--at", "4,5")
    assert code == 0 and "## At 4 evaluations" in stdout
    at = pd.read_csv(out / "table_at.csv")
    assert sorted(set(at["budget"])) == [4, 5]
    assert (out / "index.html").stat().st_size > 0 and (out / "references.bib").stat().st_size > 0
    for bad, word in (("4,x", "'x'"), ("0", "outside 1..6"), ("7", "outside 1..6")):
        code, _, err = run_cli(capsys, "report", str(tiny_results), "--at", bad)
        assert code == 2 and word in err and err.count("\n") == 1


def test_citation_cff_names_the_package_and_its_version():
    from importlib.metadata import version
    from pathlib import Path

    text = (Path(__file__).parent.parent / "CITATION.cff").read_text()
    fields = dict(re.findall(r"^([a-z-]+):[ ]*(.*)$", text, flags=re.M))
    for required in ("cff-version", "message", "title", "authors", "type"):
        assert required in fields, required
    assert fields["version"] == version("bo_transfer")


def test_break_even_correlation_is_reported_in_every_table_format(written):
    """The synthetic grid: prior-mean's gain is 1.5 * rho, so it breaks even
    near 0; random hurts everywhere and init helps everywhere."""
    report, out = written
    rows = report.break_even.set_index(C.METHOD)
    assert -0.3 < rows.loc["prior-mean", "break_even"] < 0.3
    assert rows.loc["random", "note"] == "negative up to the grid's top"
    assert rows.loc["init", "note"] == "never negative on the grid"
    md = (out / "table.md").read_text()
    assert "## Break-even correlation" in md and "never negative on the grid" in md
    assert "Break-even correlation" in (out / "table.tex").read_text()
    csv = pd.read_csv(out / "table.csv")
    pm = csv[csv[C.METHOD] == "prior-mean"]
    assert pm["break_even"].nunique() == 1 and -0.3 < pm["break_even"].iloc[0] < 0.3
    assert "Break-even correlation" in (out / "index.html").read_text()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_report_of_an_exported_file_equals_the_report_of_its_directory(
    tiny_results, tmp_path, capsys, fmt
):
    """Published exports re-analyse without the store: the same table."""
    export = tmp_path / f"results.{fmt}"
    assert main(["export", str(tiny_results), "--format", fmt, "--out", str(export)]) == 0
    assert main(["report", str(tiny_results), "--out", str(tmp_path / "from-dir")]) == 0
    assert main(["report", str(export), "--baseline", "cold-gp"]) == 0
    capsys.readouterr()
    from_dir = pd.read_csv(tmp_path / "from-dir" / "table.csv")
    from_file = pd.read_csv(tmp_path / "report" / "table.csv")  # next to the export
    pd.testing.assert_frame_equal(from_dir, from_file)


def test_a_file_that_is_not_an_export_is_one_line(tmp_path, capsys):
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a bo-transfer export" in err


def _line_colors(fig) -> dict[str, str]:
    """method -> the colour its lines are drawn in, read from the figure's legend."""
    from matplotlib.colors import to_hex

    legend = fig.legends[0]
    return {
        t.get_text(): to_hex(h.get_color())
        for t, h in zip(legend.get_texts(), legend.legend_handles)
    }


def test_a_method_keeps_its_colour_and_marker_across_reports_with_other_methods(sweep_frame):
    """Two reports of different method sets (one also with a method the
    package does not know): prior-mean looks the same in both, in every
    figure, and a built-in method's colour is fixed."""
    from bo_transfer.analysis import method_style

    small = sweep_frame[sweep_frame[C.METHOD].isin(["cold-gp", "prior-mean"])]
    a = build_report(small, baseline="cold-gp")
    b = build_report(sweep_frame, baseline="cold-gp")
    for report in (a, b):
        assert report.styles["prior-mean"] == method_style("prior-mean")
    regret_a = _line_colors(a.figures["regret_curves"][2])
    regret_b = _line_colors(b.figures["regret_curves"][2])
    assert regret_a["prior-mean"] == regret_b["prior-mean"] == "#0072b2"
    assert regret_a["cold-gp"] == regret_b["cold-gp"] == "#000000"
    # a name the package does not know: the same style from its name alone
    assert method_style("my-method") == method_style("my-method")
    assert b.styles["init"] == method_style("init")
    # no two built-in methods look alike
    from bo_transfer.analysis.figures import BUILTIN_STYLES

    looks = {(s.color, s.marker) for s in BUILTIN_STYLES.values()}
    assert len(looks) == len(BUILTIN_STYLES) and set(REGISTERED_METHODS) <= set(BUILTIN_STYLES)


def test_panels_and_columns_follow_the_correlation_in_numeric_order(written):
    """rho = -0.9, -0.6, -0.3, 0.3, ... left to right (as strings, -0.3 would
    come before -0.6), in the regret curves, the heatmap and the pivot table;
    one legend, outside the panels."""
    report, _ = written
    order = ["rho=-0.9", "rho=-0.6", "rho=-0.3", "rho=0.3", "rho=0.6", "rho=0.9"]
    regret = report.figures["regret_curves"][2]
    assert [ax.get_title() for ax in regret.axes if ax.get_visible()] == order
    assert all(ax.get_legend() is None for ax in regret.axes) and len(regret.legends) == 1
    heat = report.figures["effect_heatmap"][2].axes[0]
    assert [t.get_text() for t in heat.get_xticklabels()] == order
    page = report.html()
    pivot = page[page.index('id="pivot"') :]
    cols = [pivot.index(f"<th>{v}</th>") for v in ("-0.9", "-0.6", "-0.3", "0.3")]
    assert cols == sorted(cols)


def test_numbers_are_printed_for_people():
    from bo_transfer.analysis.tables import fixed, human, p_text

    assert human(6.94e-18) == "0" and human(-0.25) == "\u22120.25" and human(1234.5) == "1,234"
    assert human(float("nan")) == "\u2013" and human(3.2e-6) == "3.2e\u221206"
    assert fixed(-0.001) == "0.00" and fixed(-1.234) == "\u22121.23"
    assert p_text(1e-20) == "<0.0001" and p_text(0.031) == "0.031"


def test_no_label_is_clipped_and_no_legend_covers_the_data(written):
    """Every critical-difference label lies inside the figure; the mean-rank
    legend lies beside its axes, not on them."""
    report, _ = written
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    cd = report.figures["critical_difference"][2]
    renderer = FigureCanvasAgg(cd).get_renderer()
    cd.draw(renderer)
    frame = cd.bbox
    for text in cd.axes[0].texts:
        box = text.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, text.get_text()
    ranks = report.figures["mean_rank"][2]
    renderer = FigureCanvasAgg(ranks).get_renderer()
    ranks.draw(renderer)
    (legend,) = ranks.legends
    assert ranks.axes[0].get_legend() is None
    assert not legend.get_window_extent(renderer).overlaps(
        ranks.axes[0].get_window_extent(renderer)
    )
