"""Shared fitting helpers: warm-started hyperparameters, the source-fit cache."""

import torch

from bo_transfer.methods import base, gp, sources
from bo_transfer.methods.base import make_method
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import sobol


def test_target_fits_start_from_the_previous_hyperparameters(monkeypatch):
    method = make_method("cold-gp")
    method.start([], 2, seed=0)
    pair = get_pair("gp:rho=0.5,dim=2")
    X = sobol(8, 2, seed=1)
    y = pair.target(X)
    first = method.fit_gp(X[:7], y[:7])
    starts = []
    original = gp.fit_gpytorch_mll

    def spy(mll, *args, **kwargs):
        starts.append(mll.model.covar_module.lengthscale.detach().clone())
        return original(mll, *args, **kwargs)

    monkeypatch.setattr(gp, "fit_gpytorch_mll", spy)
    method.fit_gp(X, y)
    assert torch.equal(starts[0], first.covar_module.lengthscale.detach())
    fresh = make_method("cold-gp")
    fresh.start([], 2, seed=0)
    fresh.fit_gp(X, y, slot=None)
    assert not torch.equal(starts[1], starts[0])  # the default start differs


def test_source_fits_are_shared_by_methods_that_see_the_same_data(monkeypatch):
    sources._SOURCE_FITS.clear()
    pair = get_pair("gp:rho=0.9;0.5,dim=2")
    data = pair.source_data(0, n_source=16)
    fits = []
    original = base.Method.fit_gp

    def spy(self, X, y, *args, **kwargs):
        fits.append(kwargs.get("slot", "target"))
        return original(self, X, y, *args, **kwargs)

    monkeypatch.setattr(base.Method, "fit_gp", spy)
    first = make_method("prior-mean")
    first.start(data, 2, seed=0)
    assert fits == [None, None]
    second = make_method("rgpe")
    second.start(data, 2, seed=0)
    assert fits == [None, None]  # no new source fit
    Xt = sobol(5, 2, seed=3)
    with torch.no_grad():
        a = first._fitted[0].posterior(Xt).mean
        b = second._sources[0].posterior(Xt).mean
    assert torch.allclose(a, b)
    make_method("prior-mean").start(pair.source_data(1, n_source=16), 2, seed=0)
    assert fits == [None] * 4  # other data: fitted again
