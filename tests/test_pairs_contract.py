"""The contract every registered pair family keeps, applied to each one.

A new family (built in or from a plugin) gets these tests for free: they run
over every family's examples.
"""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from bo_transfer.errors import UserError
from bo_transfer.problems import FAMILIES, get_pair
from bo_transfer.problems.base import DTYPE, sobol
from bo_transfer.problems.families import PairFamily, Param, canonical_pair_name, format_value
from bo_transfer.problems.observed import ObservedSource

FAMILY_NAMES = sorted(FAMILIES.names())
EXAMPLES = [name for f in FAMILY_NAMES for name in FAMILIES.get(f).examples]
#: One pair per family for the costly checks (certification of every source).
FIRST = [FAMILIES.get(f).examples[0] for f in FAMILY_NAMES]


def test_every_family_has_examples_and_a_citation():
    for name in FAMILY_NAMES:
        family = FAMILIES.get(name)
        assert family.examples, name
        assert family.citation and family.summary, name


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_names_are_canonical_and_round_trip(name):
    canonical = canonical_pair_name(name)
    family, _, _ = name.partition(":")
    assert canonical.startswith(f"{family}:") or canonical == family
    full = FAMILIES.get(family).canonical({})[1]
    assert set(full) == {p.name for p in FAMILIES.get(family).params}
    assert canonical_pair_name(canonical) == canonical
    assert all(isinstance(format_value(v), str) for v in full.values())


@pytest.mark.parametrize("name", EXAMPLES)
def test_values_are_deterministic_finite_float64_on_the_unit_cube(name):
    pair = get_pair(name)
    X = torch.cat([sobol(256, pair.dim, seed=7), torch.zeros(1, pair.dim), torch.ones(1, pair.dim)])
    for problem in (pair.target, *pair.sources):
        if isinstance(problem, ObservedSource):
            continue
        a, b = problem(X), problem(X.clone())
        assert a.shape == (len(X),) and a.dtype == DTYPE
        assert torch.isfinite(a).all()
        assert torch.equal(a, b)
    # A fresh build (another process would do this) gives the same functions.
    from bo_transfer.problems.pair import _build_pair

    fresh = _build_pair.__wrapped__(pair.name)
    assert torch.equal(fresh.target(X), pair.target(X))
    for s, t in zip(fresh.sources, pair.sources):
        if not isinstance(s, ObservedSource):
            assert torch.equal(s(X), t(X))


@pytest.mark.parametrize("name", FIRST)
def test_certified_optimum_is_not_beaten_by_a_fresh_dense_sample(name):
    pair = get_pair(name)
    opt = pair.target.optimum
    fresh = sobol(2**14, pair.dim, seed=99)
    assert pair.target(fresh).min() >= opt.value - 1e-9
    assert all(0.0 <= v <= 1.0 for v in opt.x)
    x_star = torch.tensor([opt.x], dtype=DTYPE)
    assert pair.target(x_star)[0] == pytest.approx(opt.value, abs=1e-9)


@pytest.mark.parametrize("name", FIRST)
def test_negation_flips_the_sign_of_every_sources_correlation(name):
    family = name.partition(":")[0]
    pair = get_pair(name)
    negated = get_pair(f"negate:pair={name}")
    assert negated.target is pair.target
    t = pair.target.reference_values.numpy()
    for s, n in zip(pair.sources, negated.sources):
        if isinstance(s, ObservedSource):  # data only: compare at its own points
            at = pair.target(s.X).numpy()
            r = stats.pearsonr(s.y.numpy(), at).statistic
            r_neg = stats.pearsonr(n.y.numpy(), at).statistic
            assert n.subsample == s.subsample
        else:
            r = stats.pearsonr(s.reference_values.numpy(), t).statistic
            r_neg = stats.pearsonr(n.reference_values.numpy(), t).statistic
        assert r_neg == pytest.approx(-r, abs=1e-9), family
        assert abs(r) > 0.05, f"{name}: correlation {r} too small to show a sign"


@pytest.mark.parametrize("name", FIRST)
def test_diagnostics_cover_every_source(name):
    pair = get_pair(name)
    assert len(pair.diagnostics) == len(pair.sources)
    for d in pair.diagnostics:
        assert -1.0 <= d["pearson"] <= 1.0 and -1.0 <= d["spearman"] <= 1.0
        assert 0.0 <= d["optimum_distance"] <= pair.dim**0.5 + 1e-9


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Param("n", int, 0, 1, 5), "default"),
        (lambda: Param("mode", str, "a"), "needs its choices"),
        (lambda: Param("bad name", float, 0.0), "identifier"),
        (lambda: PairFamily("a:b", (), lambda: None, "", ""), "':' or ','"),
        (
            lambda: PairFamily("twice", (Param("x", float, 0.0),) * 2, lambda: None, "", ""),
            "repeat",
        ),
    ],
)
def test_family_definitions_validate_when_constructed(make, message):
    with pytest.raises((ValueError, UserError), match=message):
        make()
