"""RGPE's weights against an independent computation from the paper's definition."""

import numpy as np
import pytest
import torch
from rgpe_reference import gp_posterior, paper_weights, weights_from_losses

from bo_transfer.methods import make_method
from bo_transfer.methods.base import standardize
from bo_transfer.methods.rgpe import loo_posteriors, rank_weights
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import sobol


def _fitted(pair_name: str, n_target: int, seed: int, n_samples: int = 128):
    """RGPE started on the pair's sources, with its target GP fitted on
    ``n_target`` Sobol points: ``(method, target GP, X, t)``, ``t`` larger-better."""
    pair = get_pair(pair_name)
    method = make_method("rgpe", {"n_samples": n_samples})
    method.start(pair.source_data(seed), pair.dim, seed=seed)
    X = sobol(n_target, pair.dim, seed + 100)
    y_std = standardize(pair.target(X))
    return method, method.fit_gp(X, y_std), X, -y_std


def test_leave_one_out_posteriors_are_the_refitted_gps():
    """Row j of ``loo_posteriors`` is the GP conditioned on all points but j,
    with the same hyperparameters, computed here by conditioning explicitly."""
    method, target, X, _ = _fitted("gp:rho=0.5", 7, seed=0)
    mean, cov = loo_posteriors(target)
    Xn, t = X.numpy(), target.train_targets.numpy()
    hp = {
        "lengthscale": target.covar_module.lengthscale.detach().numpy().ravel(),
        "mean": float(target.mean_module.constant.detach()),
        "noise": float(target.likelihood.noise.detach().squeeze()),
    }
    for j in range(len(X)):
        others = [k for k in range(len(X)) if k != j]
        m_j, c_j = gp_posterior(Xn[others], t[others], Xn, hp)
        np.testing.assert_allclose(mean[j].numpy(), m_j, atol=1e-8)
        np.testing.assert_allclose(cov[j].numpy(), c_j, atol=1e-8)


@pytest.mark.parametrize(
    ("pair_name", "n_target", "seed"),
    [("gp:rho=0.0", 10, 0), ("gp:rho=0.9", 8, 1), ("gp:rho=0.9;-0.9;0.3", 9, 2)],
)
def test_rgpe_weights_are_the_papers_definition(pair_name, n_target, seed):
    """Same data, same standard normal draws: the weights equal those of a
    brute-force implementation of the paper (explicit leave-one-out GPs and
    loops), up to one sample flipped by rounding."""
    method, target, X, t = _fitted(pair_name, n_target, seed)
    ours = method.weights(target, X, t, torch.Generator().manual_seed(seed)).numpy()
    expected = paper_weights(method._sources, target, X, t, method.n_samples, seed)
    assert ours.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(ours, expected, atol=1.0 / method.n_samples + 1e-12)


def test_rgpe_gives_an_unrelated_source_little_weight():
    """On ``gp:rho=0.0`` with 10 target points an unrelated source ranks the
    target data no better than chance, while the target's leave-one-out model
    ranks them well: the source's weight is small (the paper's definition gives
    about 0.01; comparing two different leave-one-out models, as the old code
    did, gave 0.1 to 0.5)."""
    weights = []
    for seed in range(4):
        method, target, X, t = _fitted("gp:rho=0.0", 10, seed, n_samples=256)
        weights.append(float(method.weights(target, X, t, torch.Generator().manual_seed(0))[0]))
    assert max(weights) < 0.05


def test_rank_weights_break_ties_for_the_target_and_share_them_among_sources():
    losses = torch.tensor(
        [
            [2.0, 1.0, 3.0, 5.0],  # source 0
            [2.0, 1.0, 4.0, 5.0],  # source 1
            [2.0, 4.0, 3.0, 4.0],  # target
        ]
    )
    # Sample 0: all tie -> target. 1: sources tie -> half each. 2: source 0 and
    # the target tie -> target. 3: target alone.
    expected = [0.5 / 4, 0.5 / 4, 3 / 4]
    assert rank_weights(losses).tolist() == pytest.approx(expected)
    assert weights_from_losses(losses.numpy()).tolist() == pytest.approx(expected)


def test_rank_weights_drop_a_source_whose_median_loss_exceeds_the_targets_95th_percentile():
    """The median of an even count is the mean of the middle two: 7.5 exceeds
    6.4, the 95th percentile of the target's losses, so the source is dropped
    even in the sample it would have won."""
    target = torch.tensor([1.0, 2.0, 3.0, 7.0])
    threshold = float(np.percentile(target.numpy(), 95))
    diluting = torch.tensor([0.0, 7.0, 8.0, 9.0])  # median 7.5
    kept = torch.tensor([0.0, 2.0, 3.0, 5.0])  # median 2.5
    assert 7.5 > threshold > 2.5
    w = rank_weights(torch.stack([diluting, kept, target]))
    assert w[0] == 0.0 and w.sum() == pytest.approx(1.0)
