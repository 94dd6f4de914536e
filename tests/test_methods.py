import pytest
import torch

from bo_transfer.errors import UserError
from bo_transfer.methods import make_method
from bo_transfer.methods.prior_mean import PriorMean
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import DTYPE, sobol


def _setup(method_name: str, pair_name: str, n: int = 4):
    pair = get_pair(pair_name)
    method = make_method(method_name)
    method.start(pair.source_data(0, n_source=10), pair.dim, seed=11)
    X = method.initial_design(n)
    return pair, method, X, pair.target(X)


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
        got = method.prior_mean()(data.X.unsqueeze(0))[0]
    assert torch.allclose(got, expected, atol=0.05)


def test_prior_mean_source_hyperparameters_stay_frozen_while_the_target_fits():
    pair = get_pair("forrester")
    method = PriorMean()
    method.start(pair.source_data(0, n_source=16), 1, seed=0)
    kernels = [m.covar_module for m in method._fitted]
    before = [k.lengthscale.clone() for k in kernels]
    probe = sobol(7, 1, seed=2)
    with torch.no_grad():
        means_before = method._posteriors.means(probe)
    X = sobol(5, 1, seed=1)
    method.propose(X, pair.target(X), seed=0)
    assert all(torch.equal(b, k.lengthscale) for b, k in zip(before, kernels))
    with torch.no_grad():
        assert torch.equal(method._posteriors.means(probe), means_before)


def test_unknown_method_option_is_a_user_error():
    with pytest.raises(UserError, match="method 'cold-gp' has no option 'gamma'"):
        make_method("cold-gp", {"gamma": 1})


def test_unit_cube_dtype_is_float64():
    _, method, X, y = _setup("cold-gp", "forrester")
    assert method.propose(X, y, seed=0).dtype == DTYPE
