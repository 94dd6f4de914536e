"""``bo-transfer list pairs`` and ``show`` over the whole registry."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from bo_transfer.cli import main
from bo_transfer.problems import FAMILIES, get_pair


def test_list_pairs_csv_has_one_row_per_source_of_every_example(capsys):
    assert main(["list", "pairs", "--format", "csv"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(df.columns[:8]) == [
        "name",
        "family",
        "dim",
        "n_sources",
        "source",
        "pearson",
        "spearman",
        "optimum_distance",
    ]
    assert set(df["family"]) == set(FAMILIES.names())
    counts = df.groupby("name").agg(rows=("source", "size"), n=("n_sources", "first"))
    assert (counts["rows"] == counts["n"]).all()
    two = df[df["name"] == "gp:rho=0.9;-0.9,dim=3,lengthscale=0.2,instance=0"]
    assert two["pearson"].round(2).tolist() == [0.9, -0.9]
    assert df["citation"].notna().all()
    # An instance=seed example: medians and ranges over the instances of seeds 0-9.
    (seeded,) = df[df["name"] == "gp:rho=0.9,dim=2,lengthscale=0.2,instance=seed"].itertuples()
    distances = [
        get_pair("gp:rho=0.9,dim=2,instance=seed", s).diagnostics[0]["optimum_distance"]
        for s in range(10)
    ]
    assert seeded.instances == "0-9"
    assert seeded.optimum_distance == round(float(np.median(distances)), 3)
    assert (seeded.optimum_distance_min, seeded.optimum_distance_max) == (
        round(min(distances), 3),
        round(max(distances), 3),
    )


def test_show_of_an_instance_seed_pair_draws_instance_0_and_says_so(tmp_path, capsys):
    out = tmp_path / "g.png"
    assert main(["show", "gp:rho=0.9,dim=2,instance=seed", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "drawing instance 0 (gp:rho=0.9,dim=2,lengthscale=0.2,instance=0)" in text
    assert "diagnostics over the instances of seeds 0-9, median [min, max]" in text
    assert out.stat().st_size > 10_000


def test_show_draws_a_higher_dimensional_pair_as_a_scatter(tmp_path, capsys):
    out = tmp_path / "h.png"
    assert main(["show", "hartmann:dim=3,shift=0.2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.stat().st_size > 10_000
    assert "hartmann:dim=3,n_sources=1,shift=0.2,sign=1,instance=0 source 0: pearson" in text


def test_literature_spec_covers_every_literature_family():
    from pathlib import Path

    from bo_transfer.methods import METHODS
    from bo_transfer.problems.families import split_pair_name
    from bo_transfer.sweep import Sweep

    spec = Path(__file__).resolve().parents[1] / "benchmarks" / "literature.toml"
    sweep = Sweep.from_toml(spec)
    families = [split_pair_name(p)[0] for p in sweep.pairs]
    # gp is synthetic (the correlation study's), hpob needs downloaded data;
    # Hartmann comes at 3 and 6 dimensions.
    literature = ["alpine", "branin", "forrester", "hartmann", "hartmann", "hpo", "negate", "shift"]
    assert sorted(families) == literature
    # Other tests register plugin methods: compare with the built-in ones.
    builtin = set(
        [
            "random",
            "cold-gp",
            "bounding-box",
            "prior-mean",
            "guarded",
            "mhgp",
            "shgp",
            "init-transfer",
            "mtgp",
            "mtgp-botorch",
            "pibo",
            "pooled-gp",
            "rgpe",
            "taf",
        ]
    )
    assert builtin <= set(METHODS.names())
    # mtgp-botorch (BoTorch's slow default multi-task GP) would not fit the hour.
    assert {m.name for m in sweep.methods} == builtin - {"mtgp-botorch"}
