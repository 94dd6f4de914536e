"""Batched steps computed the way their methods define them: a model of S seeds
is S models, each equal to the unbatched one, and a run in a seed block agrees
with the run alone within the suite's tolerance (the reproducibility rule:
exact initial designs, 1e-4 at the first BO proposal)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gpytorch.mlls import ExactMarginalLogLikelihood

from bo_transfer.methods import METHODS, make_method
from bo_transfer.methods.base import has_batched_step
from bo_transfer.methods.mtgp import TargetTaskGP, initial_task_variances
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import sobol
from bo_transfer.reproducibility import FIRST_PROPOSAL_ATOL
from bo_transfer.sweep import RunSpec, run_one
from bo_transfer.sweep.block import run_block


def _mtgp_data(seed: int, n_source: int = 12, n: int = 5):
    """A started ``mtgp`` on a two-source instance and its training data."""
    pair = get_pair(f"gp:rho=0.9;-0.5,dim=2,instance={seed}")
    method = make_method("mtgp")
    method.start(pair.source_data(seed, n_source), pair.dim, seed)
    X = sobol(n, pair.dim, seed)
    return method, X, pair.target(X)


def _set_hyperparameters(reference, ours, s: int, generator: torch.Generator) -> None:
    """The same random hyperparameters in BoTorch's model and in element ``s`` of ours."""
    n_tasks = reference.num_tasks
    lengthscale = 0.2 + torch.rand(1, 2, generator=generator, dtype=torch.float64)
    factor = torch.randn(n_tasks, n_tasks, generator=generator, dtype=torch.float64)
    var = 0.1 + torch.rand(n_tasks, generator=generator, dtype=torch.float64)
    constants = torch.randn(n_tasks, generator=generator, dtype=torch.float64)
    noise = 0.01 + 0.1 * torch.rand(1, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        reference.covar_module.kernels[0].lengthscale = lengthscale
        reference.covar_module.kernels[1].covar_factor.copy_(factor)
        reference.covar_module.kernels[1].var = var
        for k, c in enumerate(constants):
            reference.mean_module.base_means[k].constant = c
        reference.likelihood.noise = noise
        data, task = ours.covar_module.kernels
        data.raw_lengthscale[s] = data.raw_lengthscale_constraint.inverse_transform(lengthscale)
        task.covar_factor[s] = factor
        task.raw_var[s] = task.raw_var_constraint.inverse_transform(var)
        ours.mean_module.constant[s] = constants
        raw_noise = ours.likelihood.noise_covar.raw_noise
        raw_noise[s] = ours.likelihood.noise_covar.raw_noise_constraint.inverse_transform(noise)


def test_target_task_gp_is_botorchs_multitask_gp_for_each_seed_of_a_batch():
    """``mtgp``'s batched model (3 seeds, each its own data and hyperparameters)
    has, per seed, the marginal likelihood and the target task's posterior of
    BoTorch 0.18's ``MultiTaskGP`` in ``mtgp``'s configuration, to 1e-10."""
    runs = [_mtgp_data(seed) for seed in (0, 1, 2)]
    data = [m.training_data(X, y) for m, X, y in runs]
    ours = TargetTaskGP(
        torch.stack([d[0] for d in data]), torch.stack([d[1] for d in data]), n_tasks=3
    )
    generator = torch.Generator().manual_seed(0)
    references = []
    for s, ((method, _, _), (train_X, train_Y)) in enumerate(zip(runs, data)):
        reference = method.build(train_X, train_Y)
        _set_hyperparameters(reference, ours, s, generator)
        references.append(reference)
    test_X = torch.rand(7, 1, 2, generator=generator, dtype=torch.float64)
    ours.train()
    mll = ExactMarginalLogLikelihood(ours.likelihood, ours)(
        ours(*ours.train_inputs), ours.train_targets
    )
    ours.eval()
    posterior = ours.posterior(test_X.unsqueeze(1))  # 7 x S x 1 x 1
    for s, reference in enumerate(references):
        reference.train()
        expected = ExactMarginalLogLikelihood(reference.likelihood, reference)(
            reference(*reference.train_inputs), reference.train_targets
        )
        assert float(mll[s]) == pytest.approx(float(expected), abs=1e-10)
        reference.eval()
        alone = reference.posterior(test_X)
        torch.testing.assert_close(posterior.mean[:, s], alone.mean, rtol=0, atol=1e-10)
        torch.testing.assert_close(posterior.variance[:, s], alone.variance, rtol=0, atol=1e-10)


def test_mtgp_starts_each_seed_where_botorchs_construction_started_it():
    """The free task kernel's initial diagonal is the one ``mtgp`` drew before
    it had a batched model (BoTorch's ``MultiTaskGP`` construction seeded by
    the step's seed), so a first fit starts from the same point."""
    method, X, y = _mtgp_data(0)
    train_X, train_Y = method.training_data(X, y)
    for seed in (3, 17):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            before = method.build(train_X, train_Y).covar_module.kernels[1].raw_var
        batched = method.build_batch(train_X[None], train_Y[None], [seed])
        assert torch.equal(batched.covar_module.kernels[1].raw_var[0], before.detach())
        assert torch.equal(initial_task_variances(3, seed), before.detach())


def test_mtgp_has_a_batched_step_and_a_block_run_agrees_with_the_run_alone():
    """``mtgp`` runs in seed blocks; per seed, the initial design is exact and
    the first BO proposal within 1e-4 of the run alone, with no fallback.

    On a one-source pair, whose fits converge well inside ``mtgp``'s
    150-iteration cap: a fit stopped by the cap mid-way along a nearly flat
    valley (near-singular task covariances) amplifies the last bits in which
    BoTorch's batched L-BFGS-B and SciPy's differ, up to 1e-3 in the proposal
    (see ``benchmarks/perf/RESULTS.md``)."""
    assert has_batched_step(METHODS.get("mtgp"))
    runs = [RunSpec("gp:rho=0.9,dim=2", "mtgp", s, 6, 5, 8) for s in (0, 1, 2)]
    for spec, blocked in zip(runs, run_block(runs)):
        alone = run_one(spec)
        assert blocked.status == alone.status == "done", (blocked.error, alone.error)
        assert blocked.metadata["batch_fallbacks"] == 0
        assert blocked.X[:5] == alone.X[:5]
        np.testing.assert_allclose(blocked.X[5], alone.X[5], rtol=0, atol=FIRST_PROPOSAL_ATOL)
        rho_block, rho_alone = (
            r.metadata["trace"]["task_correlation"][0] for r in (blocked, alone)
        )
        np.testing.assert_allclose(rho_block, rho_alone, rtol=0, atol=1e-4)


def test_a_cached_source_fit_is_the_fit_a_run_makes_itself_to_the_bit():
    """The source-fit cache changes nothing but the cost: with the cache
    emptied before every start (each run fits its own sources) the source
    posteriors are bit-identical to those of a run served from the cache."""
    from bo_transfer.methods import sources

    pair = get_pair("gp:rho=0.9;-0.5,dim=2")
    data = pair.source_data(0, n_source=12)
    X = sobol(64, 2, seed=5)

    def posteriors(name: str, clear: bool) -> list[torch.Tensor]:
        if clear:
            sources._SOURCE_FITS.clear()
        method = make_method(name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(123 if clear else 456)  # a run's state must not matter
            method.start(data, 2, seed=0)
        return method._posteriors.means_and_variances(X)

    sources._SOURCE_FITS.clear()
    posteriors("guarded", clear=False)  # fills the cache
    cached = posteriors("guarded", clear=False)
    fresh = posteriors("guarded", clear=True)
    for a, b in zip(cached, fresh):
        assert torch.equal(a, b)


def test_the_source_fit_cache_key_names_the_data_and_the_fit():
    from bo_transfer.methods.sources import SOURCE_FIT, source_fit_key

    X = sobol(8, 2, seed=0)
    y = X.sum(-1)
    assert source_fit_key(X, y) == source_fit_key(X.clone(), y.clone())
    assert source_fit_key(X, y) != source_fit_key(X, y + 1e-12)
    assert source_fit_key(X, y) != source_fit_key(X, y, SOURCE_FIT + " other")
    assert source_fit_key(X[:4], y[:4]) != source_fit_key(X, y)


def test_shgp_inherited_covariance_of_a_batch_is_each_runs_own():
    """Stacked over S runs (one batched expression), the sources' posterior
    mean, covariance and variance are each run's :class:`SourceHierarchy`'s,
    to 1e-12."""
    from bo_transfer.methods.hierarchical import SourceHierarchy, StackedHierarchies

    hierarchies = []
    for seed in (0, 1, 2):
        pair = get_pair(f"gp:rho=0.9;-0.5,dim=2,instance={seed}")
        method = make_method("shgp")
        method.start(pair.source_data(seed, 10), pair.dim, seed)
        hierarchies.append(method._hierarchy)
    assert StackedHierarchies.stackable(hierarchies)
    assert not StackedHierarchies.stackable([*hierarchies, SourceHierarchy([])])
    stacked = StackedHierarchies(hierarchies)
    generator = torch.Generator().manual_seed(1)
    x1 = torch.rand(4, 3, 5, 2, generator=generator, dtype=torch.float64)  # b x S x n x d
    x2 = torch.rand(4, 3, 6, 2, generator=generator, dtype=torch.float64)
    for s, h in enumerate(hierarchies):
        for ours, alone in (
            (stacked.mean(x1)[:, s], h.mean(x1[:, s])),
            (stacked.variance(x1)[:, s], h.variance(x1[:, s])),
            (stacked.covariance(x1, x2)[:, s], h.covariance(x1[:, s], x2[:, s])),
        ):
            torch.testing.assert_close(ours, alone, rtol=0, atol=1e-12)
