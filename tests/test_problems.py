import pytest
import torch
from scipy import stats

from bo_transfer.errors import UserError
from bo_transfer.problems import FAMILIES, canonical_pair_name, get_pair
from bo_transfer.problems.base import DTYPE, reference_points, sobol
from bo_transfer.problems.observed import ObservedSource

EXAMPLES = [name for f in FAMILIES.names() for name in FAMILIES.get(f).examples]


def test_canonical_name_lists_every_parameter_in_fixed_order():
    assert (
        canonical_pair_name("gp:dim=3,rho=-0.9") == "gp:rho=-0.9,dim=3,lengthscale=0.2,instance=0"
    )
    assert canonical_pair_name("forrester") == "forrester:a=0.5,b=10.0,c=-5.0"
    assert canonical_pair_name(canonical_pair_name("gp:rho=1")) == canonical_pair_name("gp:rho=1")


@pytest.mark.parametrize(
    "name, message",
    [
        ("gpp:rho=0.5", r"unknown pair family 'gpp'; did you mean 'gp'"),
        ("gp:rho=1.5", r"rho=1\.5 is outside \[-1, 1\]"),
        ("gp:rh=0.5", r"no parameter 'rh'; did you mean 'rho'"),
        ("gp:dim=2.5", r"dim must be an integer"),
        ("gp:dim=0", r"outside"),
        ("gp:rho", r"expected key=value"),
        ("gp:rho=0.1,rho=0.2", r"given twice"),
        ("gp:rho=nan", r"must be finite"),
    ],
)
def test_bad_pair_names_give_one_line_errors(name, message):
    with pytest.raises(UserError, match=message) as info:
        get_pair(name)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", EXAMPLES)
def test_problems_are_deterministic_and_finite(name):
    pair = get_pair(name)
    X = sobol(64, pair.dim, seed=7)
    for problem in (pair.target, *pair.sources):
        if isinstance(problem, ObservedSource):
            continue  # data only: nothing to evaluate
        a, b = problem(X), problem(X.clone())
        assert a.shape == (64,) and a.dtype == DTYPE
        assert torch.isfinite(a).all()
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", EXAMPLES)
def test_certified_optimum_is_not_beaten_by_a_fresh_dense_sample(name):
    pair = get_pair(name)
    fresh = sobol(4096, pair.dim, seed=99)
    assert pair.target(fresh).min() >= pair.target.optimal_value - 1e-9
    x_star = torch.tensor([pair.target.optimum.x], dtype=DTYPE)
    assert pair.target(x_star)[0] == pytest.approx(pair.target.optimal_value)


def test_forrester_optimum_matches_the_literature():
    opt = get_pair("forrester").target.optimum
    assert opt.value == pytest.approx(-6.02074, abs=1e-4)
    assert opt.x[0] == pytest.approx(0.75725, abs=1e-4)


def test_negative_a_makes_forrester_anti_correlated():
    assert get_pair("forrester:a=-1.0,b=0,c=0").diagnostics[0]["pearson"] == pytest.approx(-1.0)
    assert get_pair("forrester").diagnostics[0]["pearson"] > 0.5


@pytest.mark.parametrize("rho", [-0.9, -0.5, 0.0, 0.3, 0.9])
@pytest.mark.parametrize("instance", [0, 1, 2])
def test_gp_pair_correlation_tracks_nominal_rho(rho, instance):
    pair = get_pair(f"gp:rho={rho},dim=2,instance={instance}")
    # The diagnostics' measure, computed without certifying optima (slow, and
    # irrelevant to the correlation).
    s, t = pair.sources[0].reference_values.numpy(), pair.target.reference_values.numpy()
    assert stats.pearsonr(s, t).statistic == pytest.approx(rho, abs=0.02)


def test_gp_pair_correlation_holds_off_the_reference_set():
    """The construction is exact on the reference set; on fresh points it should
    still be close, or the correlation knob would mean nothing to a BO run."""
    for rho in (-0.9, 0.0, 0.9):
        pair = get_pair(f"gp:rho={rho},dim=3")
        X = sobol(2048, 3, seed=123)
        r = stats.pearsonr(pair.sources[0](X).numpy(), pair.target(X).numpy()).statistic
        assert r == pytest.approx(rho, abs=0.1)


def test_same_instance_keeps_the_source_across_rho():
    X = reference_points(2)
    a, b = get_pair("gp:rho=0.9"), get_pair("gp:rho=-0.9")
    assert torch.equal(a.sources[0](X), b.sources[0](X))
    assert not torch.equal(a.target(X), b.target(X))


def test_source_data_is_deterministic_per_pair_and_seed():
    pair = get_pair("gp:rho=0.5")
    (d1,), (d2,), (d3,) = pair.source_data(0), pair.source_data(0), pair.source_data(1)
    assert d1.X.shape == (32, 2) and d1.Y.shape == (32, 1)
    assert torch.equal(d1.X, d2.X) and torch.equal(d1.Y, d2.Y)
    assert not torch.equal(d1.X, d3.X)
    assert torch.equal(pair.sources[0](d1.X), d1.Y.squeeze(-1))
    assert pair.source_data(0, n_source=8)[0].X.shape == (8, 2)
