"""The gp family: the realized correlation is what the name says, per source."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from bo_transfer.errors import UserError
from bo_transfer.problems import FAMILIES, canonical_pair_name, get_pair
from bo_transfer.problems.base import reference_points, sobol
from bo_transfer.problems.families import split_pair_name
from bo_transfer.sweep import Sweep


def _pearsons(pair) -> list[float]:
    t = pair.target.reference_values.numpy()
    return [stats.pearsonr(s.reference_values.numpy(), t).statistic for s in pair.sources]


def _check_single_source(instance: int) -> None:
    rng = np.random.default_rng(instance)
    for rho in [-0.95, 0.0, *rng.uniform(-1, 1, 2).round(3)]:
        pair = get_pair(f"gp:rho={rho},dim=2,lengthscale=0.2,instance={instance}")
        assert _pearsons(pair)[0] == pytest.approx(rho, abs=0.02)


@pytest.mark.parametrize("instance", range(4))
def test_single_source_correlation_is_exact_over_many_draws(instance):
    _check_single_source(instance)


@pytest.mark.slow
@pytest.mark.parametrize("instance", range(4, 60))
def test_single_source_correlation_is_exact_over_many_more_draws(instance):
    _check_single_source(instance)


@pytest.mark.parametrize("instance", range(3))
@pytest.mark.parametrize("dim, lengthscale", [(1, 0.1), (3, 0.5), (5, 0.3)])
def test_every_source_of_a_multi_source_pair_has_its_own_exact_correlation(
    instance, dim, lengthscale
):
    rng = np.random.default_rng(100 + instance)
    rhos = rng.uniform(-1, 1, size=1 + instance % 4).round(3).tolist()
    name = (
        f"gp:rho={';'.join(map(str, rhos))},dim={dim},lengthscale={lengthscale},instance={instance}"
    )
    pair = get_pair(name)
    assert len(pair.sources) == len(rhos)
    np.testing.assert_allclose(_pearsons(pair), rhos, atol=0.02)


def test_helpful_and_adversarial_sources_together():
    pair = get_pair("gp:rho=0.9;-0.9,dim=3")
    assert [round(r, 2) for r in _pearsons(pair)] == [0.9, -0.9]
    # Sources are conditionally independent given the target: corr = rho_1 * rho_2.
    s0, s1 = (s.reference_values.numpy() for s in pair.sources)
    assert stats.pearsonr(s0, s1).statistic == pytest.approx(-0.81, abs=0.02)


def test_single_source_pairs_are_unchanged_by_the_multi_source_extension():
    """Sweeps stored before several sources existed must still mean the same pair:
    the first source and the target do not depend on how many sources follow."""
    X = reference_points(2)
    one, two = get_pair("gp:rho=0.7,dim=2"), get_pair("gp:rho=0.7;0.2,dim=2")
    assert np.array_equal(one.target(X).numpy(), two.target(X).numpy())
    assert np.array_equal(one.sources[0](X).numpy(), two.sources[0](X).numpy())


def test_lengthscale_controls_roughness():
    X = sobol(512, 1, seed=3).sort(0).values
    rough = get_pair("gp:rho=0.5,dim=1,lengthscale=0.05").target(X).numpy()
    smooth = get_pair("gp:rho=0.5,dim=1,lengthscale=0.5").target(X).numpy()
    assert np.abs(np.diff(rough)).sum() > 3 * np.abs(np.diff(smooth)).sum()


@pytest.mark.parametrize(
    "name, message",
    [
        ("gp:rho=0.9;1.5", r"rho=1\.5 is outside \[-1, 1\]"),
        ("gp:rho=0.9;abc", r"rho must be a number, got 'abc'"),
        ("gp:rho=" + ";".join(["0.1"] * 17), r"at most 16 sources"),
    ],
)
def test_bad_rho_lists_give_one_line_errors(name, message):
    with pytest.raises(UserError, match=message) as info:
        get_pair(name)
    assert "\n" not in str(info.value)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(-1, 1, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-300),
        min_size=1,
        max_size=5,
    )
)
def test_multi_source_names_round_trip(rhos):
    name = canonical_pair_name("gp:rho=" + ";".join(repr(r) for r in rhos))
    assert canonical_pair_name(name) == name
    family, values = split_pair_name(name)
    assert FAMILIES.get(family).canonical(values)[1]["rho"] == tuple(rhos)


def test_spec_pair_tables_give_multi_source_pairs_as_strings_or_nested_lists():
    sweep = Sweep.from_dict(
        {
            "seeds": 1,
            "budget": 4,
            "n_init": 2,
            "pairs": [{"family": "gp", "rho": ["0.9;-0.9", [0.5, 0.1]], "dim": 2}],
            "methods": ["random"],
        }
    )
    assert [split_pair_name(p)[1]["rho"] for p in sweep.pairs] == ["0.9;-0.9", "0.5;0.1"]
