import pytest
import torch

from bo_transfer.errors import UserError
from bo_transfer.methods import METHODS, make_method
from bo_transfer.methods.prior_mean import PriorMean
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import DTYPE, sobol

PAIRS = ["forrester", "gp:rho=0.5,dim=2"]


def _setup(method_name: str, pair_name: str, n: int = 4):
    pair = get_pair(pair_name)
    method = make_method(method_name)
    method.start(pair.source_data(0, n_source=10), pair.dim, seed=11)
    X = method.initial_design(n)
    return pair, method, X, pair.target(X)


@pytest.mark.parametrize("pair_name", PAIRS)
@pytest.mark.parametrize("method_name", METHODS.names())
def test_proposals_are_one_point_in_the_unit_cube_and_new(method_name, pair_name):
    pair, method, X, y = _setup(method_name, pair_name)
    assert X.shape == (4, pair.dim) and X.min() >= 0 and X.max() <= 1
    x = method.propose(X, y, seed=5)
    assert x.shape == (1, pair.dim)
    assert x.min() >= 0 and x.max() <= 1
    assert (X - x).abs().amax(-1).min() > 1e-9


@pytest.mark.parametrize("method_name", METHODS.names())
def test_proposals_are_deterministic_for_a_seed(method_name):
    _, m1, X, y = _setup(method_name, "gp:rho=0.5,dim=2")
    _, m2, _, _ = _setup(method_name, "gp:rho=0.5,dim=2")
    torch.manual_seed(0)
    a = m1.propose(X, y, seed=3)
    torch.manual_seed(12345)  # global state must not matter
    b = m2.propose(X, y, seed=3)
    assert torch.equal(a, b)


def test_init_transfer_starts_from_the_best_source_points():
    pair = get_pair("forrester")
    method = make_method("init-transfer")
    (data,) = pair.source_data(0, n_source=16)
    method.start([data], 1, seed=0)
    design = method.initial_design(3)
    best = data.X[torch.argsort(data.Y.squeeze(-1))[:3]]
    assert torch.equal(design, best)


def test_init_transfer_fills_with_sobol_when_sources_run_out():
    pair = get_pair("forrester")
    method = make_method("init-transfer")
    method.start(pair.source_data(0, n_source=2), 1, seed=0)
    design = method.initial_design(5)
    assert design.shape == (5, 1)
    assert len(torch.unique(design)) == 5


def test_prior_mean_is_the_standardized_source_posterior_mean():
    """At the source points the prior mean reproduces the (negated, standardized)
    source values, so the target GP starts from the source's shape."""
    pair = get_pair("forrester")
    method = PriorMean()
    (data,) = pair.source_data(0, n_source=16)
    method.start([data], 1, seed=0)
    y = -data.Y.squeeze(-1)
    expected = (y - y.mean()) / y.std()
    with torch.no_grad():
        got = method._mean(data.X)
    assert torch.allclose(got, expected, atol=0.05)


def test_prior_mean_source_hyperparameters_stay_frozen_while_the_target_fits():
    pair = get_pair("forrester")
    method = PriorMean()
    method.start(pair.source_data(0, n_source=16), 1, seed=0)
    before = [k.lengthscale.clone() for k in method._mean._kernels]
    X = sobol(5, 1, seed=1)
    method.propose(X, pair.target(X), seed=0)
    assert all(torch.equal(b, k.lengthscale) for b, k in zip(before, method._mean._kernels))


def test_unknown_method_option_is_a_user_error():
    with pytest.raises(UserError, match="method 'cold-gp' has no option 'beta'"):
        make_method("cold-gp", {"beta": 1})


def test_methods_carry_summary_and_citation():
    for name in METHODS.names():
        cls = METHODS.get(name)
        assert cls.name == name and cls.summary and cls.citation
        assert isinstance(make_method(name).initial_design, object)


def test_unit_cube_dtype_is_float64():
    _, method, X, y = _setup("cold-gp", "forrester")
    assert method.propose(X, y, seed=0).dtype == DTYPE
