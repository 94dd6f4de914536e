"""``bo-transfer diagnose``: alignment with intervals and warm starts' risk, on
a pair and on a user's tables; bad input is one line and exit 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bo_transfer.analysis.diagnose import diagnose_pair, read_tables, warning_models
from bo_transfer.cli import main
from bo_transfer.problems.pair import get_pair


def _tables(tmp_path, rho: float, n_target: int = 8):
    """A pair's source data and first target points written as a user would."""
    pair = get_pair(f"gp:rho={rho},dim=2")
    (source,) = pair.source_data(0, 24)
    rng = np.random.default_rng(0)
    X = rng.random((n_target, 2))
    import torch

    y = pair.target(torch.tensor(X)).numpy()
    sources = pd.DataFrame(source.X.numpy(), columns=["lr", "depth"]).assign(
        y=source.Y.squeeze(-1).numpy()
    )
    target = pd.DataFrame(X, columns=["lr", "depth"]).assign(y=y)
    paths = tmp_path / "sources.csv", tmp_path / "target.csv"
    sources.to_csv(paths[0], index=False)
    target.to_csv(paths[1], index=False)
    return paths


def test_diagnose_on_user_tables_tells_an_anticorrelated_source_from_an_aligned_one(
    tmp_path, capsys
):
    risk = {}
    for rho in (0.9, -0.9):
        sources, target = _tables(tmp_path, rho)
        assert main(["diagnose", "--sources", str(sources), "--target", str(target)]) == 0
        out = capsys.readouterr().out
        assert "kendall tau" in out and "held-out Brier" in out
        risk[rho] = {
            line.split()[0]: float(line.split()[1])
            for line in out.splitlines()
            if line.split() and line.split()[0] in warning_models()["models"]
        }
    assert set(risk[0.9]) == set(warning_models()["models"])
    assert risk[-0.9]["prior-mean"] > risk[0.9]["prior-mean"]


def test_diagnose_a_pair_scores_its_initial_design(capsys):
    assert main(["diagnose", "gp:rho=-0.9,dim=2", "--evaluations", "8"]) == 0
    out = capsys.readouterr().out
    assert "the first 8 points of seed 0's initial design" in out
    d = diagnose_pair("gp:rho=-0.9,dim=2", 8)
    assert d.n_points == 8 and d.sources[0]["tau"] < 0
    assert d.sources[0]["tau_lo"] <= d.sources[0]["tau"] <= d.sources[0]["tau_hi"]
    assert all(0 <= m["p_lo"] <= m["p_worse"] <= m["p_hi"] <= 1 for m in d.methods)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda s, t: t.head(2), "needs at least 3"),
        (lambda s, t: t.drop(columns="y"), "no column 'y'"),
        (lambda s, t: t.drop(columns="depth"), "do not match"),
        (lambda s, t: t.assign(y=t["y"].where(t.index != 3)), "line 5, column 'y'"),
        (lambda s, t: t.assign(lr=t["lr"].astype(str).where(t.index != 0, "fast")), "'fast'"),
        (lambda s, t: t.assign(y=1.0), "all equal"),
    ],
)
def test_bad_target_tables_are_one_line_and_exit_2(tmp_path, capsys, edit, expected):
    sources, target = _tables(tmp_path, 0.5)
    edited = edit(pd.read_csv(sources), pd.read_csv(target))
    edited.to_csv(target, index=False)
    assert main(["diagnose", "--sources", str(sources), "--target", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["diagnose"], "takes a PAIR, or --sources"),
        (["diagnose", "gp:rho=0.5", "--sources", "s.csv", "--target", "t.csv"], "takes a PAIR"),
        (["diagnose", "gp:rho=0.5", "--evaluations", "2"], "needs at least 3"),
        (["diagnose", "gp:rho=0.5", "--evaluations", "many"], "not a whole number"),
        (["diagnose", "--sources", "nowhere.csv", "--target", "t.csv"], "cannot read"),
    ],
)
def test_bad_diagnose_arguments_are_one_line_and_exit_2(argv, expected, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err


def test_a_source_with_too_few_rows_is_named(tmp_path):
    sources, target = _tables(tmp_path, 0.5)
    s = pd.read_csv(sources).assign(source=["a"] * 22 + ["b"] * 2)
    s.to_csv(sources, index=False)
    with pytest.raises(Exception, match="source 'b' has 2 row"):
        read_tables(sources, target)


def test_the_readme_shows_diagnose_with_its_real_output(capsys, monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(root)  # the README's command runs from the repository root
    readme = (root / "README.md").read_text()
    for argv in (
        [
            "diagnose",
            "--sources",
            "benchmarks/diagnose/sources.csv",
            "--target",
            "benchmarks/diagnose/target.csv",
        ],
        ["diagnose", "gp:rho=-0.5,dim=2", "--evaluations", "10"],
    ):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert f"$ bo-transfer {' '.join(argv[0:])}\n{out}```" in readme
