import json
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

from bo_transfer import columns as C
from bo_transfer.cli import main
from bo_transfer.methods import METHODS, Method
from bo_transfer.problems.base import sobol
from bo_transfer.sweep import LocalExecutor, Sweep, run_sweep


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_methods_csv_has_contract_columns(capsys):
    code, out, _ = run_cli(capsys, "list", "methods", "--format", "csv")
    assert code == 0
    assert out.splitlines()[0] == "name,summary,citation,options"
    table = pd.read_csv(pd.io.common.StringIO(out)).set_index("name")
    assert {"random", "cold-gp", "init-transfer", "prior-mean"} <= set(table.index)
    # Each option with its default, as a spec writes it.
    assert table.at["cold-gp", "options"] == 'acquisition="logei", beta=2.0'
    assert table.at["prior-mean", "options"].startswith('weights="mean"')


def test_list_pairs_json_has_diagnostics(capsys):
    code, out, _ = run_cli(capsys, "list", "pairs", "--format", "json")
    rows = json.loads(out)
    assert code == 0
    for col in ["name", "family", "dim", "n_sources", "pearson", "spearman", "optimum_distance"]:
        assert col in rows[0]
    anti = [r for r in rows if r["name"].startswith("gp:rho=-0.9")]
    assert anti and anti[0]["pearson"] == pytest.approx(-0.9, abs=0.02)


def test_unknown_pair_in_spec_fails_before_any_run(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(
        "seeds = 1\nbudget = 4\nn_init = 2\n"
        'pairs = ["gp:rho=0.5", "forester"]\nmethods = ["cold-gpp"]\n'
    )
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "run", str(spec), "--out", str(out))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'forester'" in err and "did you mean 'forrester'" in err
    assert "'cold-gpp'" in err and "'cold-gp'" in err
    assert not out.exists()


def test_bad_flag_is_exit_2_one_line(capsys):
    code, _, err = run_cli(capsys, "report", "x", "--metric", "median")
    assert code == 2 and err.count("\n") == 1


def test_report_and_export_of_a_missing_dir(tmp_path, capsys):
    for cmd in ("report", "export"):
        code, _, err = run_cli(capsys, cmd, str(tmp_path / "nothing"))
        assert code == 2 and "no results" in err
    assert not (tmp_path / "nothing").exists()


def test_export_and_report_write_contract_files(tiny_results, tmp_path, capsys):
    csv = tmp_path / "export.csv"
    code, _, _ = run_cli(capsys, "export", str(tiny_results), "--out", str(csv))
    assert code == 0
    df = pd.read_csv(csv)
    assert list(df.columns[: len(C.EXPORT_COLUMNS)]) == C.EXPORT_COLUMNS

    report = tmp_path / "report"
    code, out, _ = run_cli(
        capsys, "report", str(tiny_results), "--out", str(report), "--format", "csv"
    )
    assert code == 0
    for name in ("table.md", "table.tex", "table.csv", "regret_curves.png", "regret_curves.pdf"):
        assert (report / name).stat().st_size > 0
    table = pd.read_csv(report / "table.csv")
    assert list(table.columns[: len(C.REPORT_COLUMNS)]) == C.REPORT_COLUMNS
    assert len(table) == 2 * 4
    assert set(table["verdict"]) <= set(C.VERDICTS)
    assert out.splitlines()[0].startswith("pair,method,n_seeds")

    code, _, err = run_cli(capsys, "report", str(tiny_results), "--baseline", "nope")
    assert code == 2 and "cold-gp" in err


def test_show_writes_a_picture(tmp_path, capsys):
    code, out, _ = run_cli(
        capsys, "show", "forrester:a=-1.0,b=0,c=0", "--out", str(tmp_path / "f.png")
    )
    assert code == 0 and (tmp_path / "f.png").stat().st_size > 0
    assert "pearson -1.000" in out


def test_dry_run_lists_runs_and_writes_nothing(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(
        "seeds = 3\nbudget = 4\nn_init = 2\n"
        'pairs = ["forrester"]\nmethods = ["random", "cold-gp"]\n'
    )
    code, out, _ = run_cli(capsys, "run", str(spec), "--out", str(tmp_path / "o"), "--dry-run")
    assert code == 0 and out.strip().endswith("6 runs")
    assert not (tmp_path / "o").exists()


def test_python_dash_m_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "bo_transfer", "list", "methods"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "prior-mean" in proc.stdout


def test_export_streams_in_chunks_and_matches_load_results(tiny_results, tmp_path, monkeypatch):
    from bo_transfer.analysis import load_results, regret

    real = regret.iter_results
    monkeypatch.setattr(regret, "iter_results", lambda d: real(d, runs_per_chunk=5))
    whole = load_results(tiny_results)
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"e.{fmt}"
        assert main(["export", str(tiny_results), "--format", fmt, "--out", str(out)]) == 0
        got = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        assert len(got) == len(whole)
        pd.testing.assert_series_equal(got["regret"], whole["regret"], check_exact=False)
        assert (got["x"] == whole["x"]).all()


class Flaky(Method):
    """Random search that fails on runs whose run seed is even."""

    def propose(self, X, y, seed):
        if self.seed % 2 == 0:
            raise RuntimeError("flaky by design")
        return sobol(X.shape[0] + 1, self.dim, self.seed)[-1:]


def test_report_counts_failed_runs_per_cell_and_takes_a_margin(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(METHODS._items, "flaky-test", Flaky)
    sweep = Sweep.from_dict(
        {
            "seeds": 8,
            "budget": 5,
            "n_init": 3,
            "n_source": 4,
            "pairs": ["forrester", "forrester:a=-1.0,b=0.0,c=0.0"],
            "methods": ["random", "flaky-test"],
        }
    )
    summary = run_sweep(sweep, tmp_path, executor=LocalExecutor(1))
    assert summary.failed > 0
    with sqlite3.connect(tmp_path / "results.sqlite") as con:
        query = "SELECT pair, method, COUNT(*) FROM runs WHERE status = 'failed' GROUP BY 1, 2"
        failed = {(p, m): n for p, m, n in con.execute(query)}
    out = tmp_path / "report"
    code, _, _ = run_cli(
        capsys, "report", str(tmp_path), "--out", str(out), "--baseline", "flaky-test",
        "--margin", "0.37",
    )  # fmt: skip
    assert code == 0
    table = pd.read_csv(out / "table.csv").set_index([C.PAIR, C.METHOD])
    for pair in sweep.pairs:
        lost = failed.get((pair, "flaky-test"), 0)
        assert tuple(table.loc[(pair, "flaky-test"), ["n_seeds", "n_failed"]]) == (8 - lost, lost)
        # the baseline's failures are charged: every seed stays paired
        assert tuple(table.loc[(pair, "random"), ["n_seeds", "n_paired", "n_failed"]]) == (8, 8, 0)
    md = (out / "table.md").read_text()
    assert "charged normalized regret 1 (not dropped)" in md and "±0.37 log10 units" in md
    for flag, bad in [("--margin", v) for v in ("0", "-1", "nan", "x")] + [
        ("--family", "pair"),
        ("--correction", "bonferroni"),
    ]:
        code, _, err = run_cli(capsys, "report", str(tmp_path), flag, bad)
        assert code == 2 and flag in err and err.count("\n") == 1


def test_version_prints_the_package_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"bo-transfer {version('bo_transfer')}"


def test_every_option_of_every_command_has_help_and_report_names_its_input():
    from bo_transfer.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.option_strings or action.dest}"
    usage = commands["report"].format_usage()
    assert "INPUT" in usage and " dir" not in usage
    run_help = commands["run"].format_help()
    # the spec's default batch_seeds (8), not 1
    from bo_transfer.sweep.spec import DEFAULT_BATCH_SEEDS

    assert f"else {DEFAULT_BATCH_SEEDS}" in " ".join(run_help.split())


def test_list_methods_lines_end_where_their_text_does(capsys):
    code, out, _ = run_cli(capsys, "list", "methods")
    assert code == 0
    lines = out.splitlines()
    assert all(line == line.rstrip() for line in lines)
    # padded, every line was as long as the longest summary
    assert len({len(line) for line in lines}) > len(lines) // 2


def test_report_methods_and_highlight(tiny_results, tmp_path, capsys):
    out = tmp_path / "r"
    code, _, _ = run_cli(
        capsys,
        "report",
        str(tiny_results),
        "--out",
        str(out),
        "--methods",
        "prior-mean,random",
        "--highlight",
        "prior-mean",
    )
    assert code == 0
    table = pd.read_csv(out / "table.csv")
    assert set(table[C.METHOD]) == {"prior-mean", "random", "cold-gp"}  # the baseline stays
    for flag in ("--methods", "--highlight"):
        code, _, err = run_cli(capsys, "report", str(tiny_results), flag, "prior-mean,nope")
        assert code == 2 and "'nope'" in err and "init-transfer" in err
        assert err.count("\n") == 1
