"""``instance=seed``: a pair that stands for a distribution of instances, seed s
running instance s for every method."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bo_transfer import columns as C
from bo_transfer.analysis import load_results, summarize
from bo_transfer.analysis.diagnostics import pair_diagnostics
from bo_transfer.errors import UserError
from bo_transfer.problems import get_pair
from bo_transfer.problems.families import canonical_pair_name, is_seeded, pair_instance
from bo_transfer.problems.pair import instance_diagnostics
from bo_transfer.sweep import LocalExecutor, RunSpec, Sweep, run_one, run_sweep

SEEDED = "gp:rho=0.9,dim=1,instance=seed"


@pytest.mark.parametrize(
    "name, canonical, at_3",
    [
        (
            "gp:rho=0.95,instance=seed",
            "gp:rho=0.95,dim=2,lengthscale=0.2,instance=seed",
            "gp:rho=0.95,dim=2,lengthscale=0.2,instance=3",
        ),
        (
            "branin:instance=seed",
            "branin:n_sources=1,sign=1,instance=seed",
            "branin:n_sources=1,sign=1,instance=3",
        ),
        (
            "hartmann:instance=seed",
            "hartmann:dim=3,n_sources=1,shift=0.0,sign=1,instance=seed",
            "hartmann:dim=3,n_sources=1,shift=0.0,sign=1,instance=3",
        ),
        (
            "shift:instance=seed",
            "shift:base=branin,delta=0.1,sign=1,instance=seed",
            "shift:base=branin,delta=0.1,sign=1,instance=3",
        ),
        (
            "negate:pair=negate:pair=gp:dim=1,instance=seed",
            "negate:pair=negate:pair=gp:rho=0.5,dim=1,lengthscale=0.2,instance=seed",
            "negate:pair=negate:pair=gp:rho=0.5,dim=1,lengthscale=0.2,instance=3",
        ),
    ],
)
def test_every_family_with_instances_accepts_instance_seed(name, canonical, at_3):
    assert canonical_pair_name(name) == canonical
    assert canonical_pair_name(canonical) == canonical
    assert is_seeded(name)
    assert pair_instance(name, 3) == at_3
    assert get_pair(name, seed=3).name == at_3
    assert get_pair(name).name == pair_instance(name, 0)  # show's instance


def test_unseeded_names_are_their_own_instance_and_bad_values_are_one_line():
    assert pair_instance("gp:rho=0.9,instance=4", 7).endswith("instance=4")
    assert not is_seeded("forrester")
    with pytest.raises(UserError, match="instance must be an integer or 'seed', got 'sed'") as info:
        canonical_pair_name("gp:instance=sed")
    assert "\n" not in str(info.value)


def _spec(pair: str, method: str, seed: int, budget: int = 3) -> RunSpec:
    return RunSpec(pair, method, seed, budget=budget, n_init=3, n_source=8)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_seeded_run_is_the_run_of_its_concrete_instance(seed):
    """Seed s runs instance s: its optimum, range, diagnostics, initial design
    and source data (init-transfer's design is the best source points) are
    those of the pair named with instance=s, and every method meets it."""
    concrete = pair_instance(SEEDED, seed)
    pair = get_pair(concrete)
    for method in ("random", "init-transfer"):
        seeded = run_one(_spec(canonical_pair_name(SEEDED), method, seed))
        named = run_one(_spec(concrete, method, seed))
        assert seeded.status == named.status == "done", seeded.error
        assert seeded.metadata["pair_instance"] == concrete
        assert seeded.X == named.X and seeded.y == named.y
        assert seeded.optimal_value == pair.target.optimal_value
        assert seeded.value_range == pair.target.value_range
        assert seeded.metadata["source_diagnostics"] == pair.diagnostics
        X = torch.tensor(seeded.X, dtype=torch.float64)
        assert torch.equal(pair.target(X), torch.tensor(seeded.y, dtype=torch.float64))
    # Instances differ: another seed's target is another function.
    X = torch.linspace(0, 1, 17, dtype=torch.float64).unsqueeze(-1)
    other = get_pair(pair_instance(SEEDED, seed + 1))
    assert not torch.allclose(pair.target(X), other.target(X))


def test_instance_diagnostics_are_the_distribution_over_the_instances_used():
    name = "branin:instance=seed"
    seeds = [0, 1, 2]
    per_instance = [get_pair(name, s).diagnostics[0] for s in seeds]
    (summary,) = instance_diagnostics(name, seeds)
    assert summary["instances"] == "0-2"
    for d in ("pearson", "spearman", "optimum_distance"):
        values = [p[d] for p in per_instance]
        assert summary[d] == pytest.approx(np.median(values))
        assert (summary[f"{d}_min"], summary[f"{d}_max"]) == (min(values), max(values))
    assert len({p["pearson"] for p in per_instance}) == 3  # the instances do differ
    (fixed,) = instance_diagnostics("branin:instance=1", seeds)
    assert fixed["instances"] == "" and fixed["pearson"] == per_instance[1]["pearson"]


def test_a_seeded_sweep_is_one_row_per_method_aggregated_over_its_instances(tmp_path):
    sweep = Sweep.from_dict(
        {
            "seeds": 3,
            "budget": 4,
            "n_init": 3,
            "n_source": 8,
            "pairs": [{"family": "gp", "rho": 0.9, "dim": 1, "instance": "seed"}],
            "methods": ["random", "init-transfer"],
        }
    )
    assert sweep.pairs == (canonical_pair_name(SEEDED),)
    assert run_sweep(sweep, tmp_path, executor=LocalExecutor(1)).failed == 0
    df = load_results(tmp_path)
    assert set(df[C.PAIR]) == {canonical_pair_name(SEEDED)}
    runs = df.groupby([C.METHOD, C.SEED])[C.PAIR_INSTANCE].first()
    for (_, seed), instance in runs.items():
        assert instance == pair_instance(SEEDED, seed)
        expected = get_pair(instance).target.optimal_value
        assert df.loc[df[C.PAIR_INSTANCE] == instance, C.CERTIFIED_OPTIMAL_VALUE].eq(expected).all()
    table = summarize(df, baseline="random")
    assert len(table) == 2 and (table["n_seeds"] == 3).all()
    diag = pair_diagnostics(df).set_index(C.PAIR).loc[canonical_pair_name(SEEDED)]
    distances = [get_pair(SEEDED, s).diagnostics[0]["optimum_distance"] for s in range(3)]
    assert diag["n_instances"] == 3
    assert diag["optimum_distance"] == pytest.approx(np.median(distances))
    assert diag["optimum_distance_min"] == pytest.approx(min(distances))
    assert diag["optimum_distance_max"] == pytest.approx(max(distances))
