"""The contract every registered method keeps, on a 1-D, a 2-D and a multi-source pair."""

import json

import pytest
import torch

from bo_transfer.methods import METHODS, base, make_method, method_options
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import FunctionProblem
from bo_transfer.problems.pair import TransferPair


def _multi_source_pair() -> TransferPair:
    """A 2-D target with three sources: shifted, scaled and upside down."""

    def bowl(centre):
        c = torch.tensor(centre, dtype=torch.float64)
        return lambda X: ((X - c) ** 2).sum(-1)

    target = FunctionProblem(bowl([0.3, 0.7]), 2, "bowl")
    sources = (
        FunctionProblem(bowl([0.35, 0.6]), 2, "shifted"),
        FunctionProblem(lambda X: 5 * bowl([0.3, 0.7])(X) + 2, 2, "scaled"),
        FunctionProblem(lambda X: -bowl([0.3, 0.7])(X), 2, "negated"),
    )
    return TransferPair("multi-bowl", "test", target, sources)


@pytest.fixture(autouse=True)
def _cheap_acquisition_optimisation(monkeypatch):
    """The contract holds for any optimiser settings; fewer restarts keep the
    36 cases fast."""
    monkeypatch.setattr(base, "NUM_RESTARTS", 2)
    monkeypatch.setattr(base, "RAW_SAMPLES", 64)


#: Methods whose fits take minutes on the contract pairs (BoTorch's default
#: multi-task GP runs thousands of L-BFGS iterations on near-singular task
#: covariances): run with ``-m slow``.
SLOW_METHODS = {"mtgp-botorch"}
ALL_METHODS = [
    pytest.param(name, marks=pytest.mark.slow) if name in SLOW_METHODS else name
    for name in METHODS.names()
]

PAIRS = {
    "1d": lambda: get_pair("forrester"),
    "2d": lambda: get_pair("gp:rho=0.5,dim=2"),
    "multi": _multi_source_pair,
}


def _started(method_name: str, pair: TransferPair, n_init: int = 3):
    method = make_method(method_name)
    method.start(pair.source_data(0, n_source=10), pair.dim, seed=11)
    X = method.initial_design(n_init)
    return method, X, pair.target(X)


@pytest.mark.parametrize("pair_key", PAIRS)
@pytest.mark.parametrize("method_name", ALL_METHODS)
def test_method_contract(method_name, pair_key):
    """With only the initial design: the design and the proposal lie in the unit
    cube and the proposal is a new point."""
    pair = PAIRS[pair_key]()
    method, X, y = _started(method_name, pair)
    assert X.shape == (3, pair.dim) and X.min() >= 0 and X.max() <= 1
    x = method.propose(X, y, seed=5)
    assert x.shape == (1, pair.dim) and x.dtype == torch.float64
    assert x.min() >= 0 and x.max() <= 1
    assert (X - x).abs().amax(-1).min() > 1e-9, "proposal repeats an evaluated point"


@pytest.mark.parametrize("method_name", ALL_METHODS)
def test_method_is_deterministic_for_a_seed(method_name):
    """Two instances given the same sources, data and seed propose the same
    point whatever the global random state (on the multi-source pair, where
    every source-side draw is exercised)."""
    pair = PAIRS["multi"]()
    proposals, designs = [], []
    for global_seed in (0, 12345):
        method, X, y = _started(method_name, pair)
        torch.manual_seed(global_seed)  # global state must not matter
        proposals.append(method.propose(X, y, seed=5))
        designs.append(X)
    assert torch.equal(*designs) and torch.equal(*proposals)


@pytest.mark.parametrize("method_name", METHODS.names())
def test_every_option_is_recorded_with_the_run(method_name):
    """``config()`` is stored with each run: it must name every option, JSON-able."""
    cls = METHODS.get(method_name)
    assert cls.name == method_name and cls.summary and cls.citation
    config = make_method(method_name).config()
    assert set(method_options(cls)) <= set(config)
    json.dumps(config)
