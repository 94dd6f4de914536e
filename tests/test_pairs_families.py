"""Family-specific facts from the literature each family cites."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bo_transfer.errors import UserError
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import DTYPE, reference_points
from bo_transfer.problems.branin import branin


def _pearson(pair, k: int = 0) -> float:
    """The diagnostics' Pearson correlation, without certifying source optima."""
    t = pair.target.reference_values.numpy()
    return float(np.corrcoef(pair.sources[k].reference_values.numpy(), t)[0, 1])


def test_forrester_default_source_is_the_papers_low_fidelity_function():
    """Forrester, Sobester, Keane (2007): f_low = A f + B (x - 0.5) - C with
    A = 0.5, B = 10, C = -5, i.e. 0.5 f(x) + 10 (x - 0.5) + 5 (emukit's
    forrester_low)."""
    x = np.linspace(0.0, 1.0, 101)
    high = (6 * x - 2) ** 2 * np.sin(12 * x - 4)
    low = 0.5 * high + 10 * (x - 0.5) + 5
    pair = get_pair("forrester")
    X = torch.tensor(x, dtype=DTYPE).unsqueeze(-1)
    np.testing.assert_allclose(pair.target(X).numpy(), high, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pair.sources[0](X).numpy(), low, rtol=1e-12, atol=1e-12)


def test_branin_target_is_branin_hoo_with_its_three_minimisers():
    pair = get_pair("branin")
    assert pair.target.optimal_value == pytest.approx(0.397887, abs=1e-6)
    minimisers = [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)]
    X = torch.tensor([((a + 5) / 15, b / 15) for a, b in minimisers], dtype=DTYPE)
    np.testing.assert_allclose(branin(X).numpy(), 0.397887, atol=1e-5)


def test_branin_sources_are_drawn_from_the_literature_ranges_and_sign_negates():
    pair = get_pair("branin:n_sources=4")
    assert len(pair.sources) == 4 and all(_pearson(pair, k) > 0.5 for k in range(4))
    neg = get_pair("branin:n_sources=4,sign=-1")
    for k in range(4):
        assert _pearson(neg, k) == pytest.approx(-_pearson(pair, k))
    other = get_pair("branin:n_sources=4,instance=1")
    X = reference_points(2)
    assert not torch.equal(other.sources[0](X), pair.sources[0](X))


def _unit(points, bounds) -> np.ndarray:
    lo, hi = np.array(bounds, dtype=float).T
    return (np.asarray(points, dtype=float) - lo) / (hi - lo)


def test_branin_optimum_lists_botorchs_three_optimizers():
    from botorch.test_functions.synthetic import Branin

    reference = Branin()
    expected = _unit(reference.optimizers.numpy(), reference._bounds)
    opt = get_pair("branin").target.optimum
    assert len(opt.points) == 3
    np.testing.assert_allclose(np.array(opt.points), expected, atol=1e-6)
    assert opt.value == pytest.approx(reference.optimal_value, abs=1e-6)
    X = torch.tensor(opt.points, dtype=DTYPE)
    np.testing.assert_allclose(branin(X).numpy(), reference(reference.optimizers).numpy())


def test_optimum_distance_goes_to_the_nearest_of_several_minimisers():
    """A source whose minimum sits 0.061 from Branin's third minimiser is 0.061
    from the target's optimum, not its distance to the first minimiser."""
    from botorch.test_functions.synthetic import Branin

    from bo_transfer.problems import FAMILIES, register_pair
    from bo_transfer.problems.branin import branin_problem

    reference = Branin()
    minimisers = _unit(reference.optimizers.numpy(), reference._bounds)
    centre = minimisers[2] + np.array([-0.061, 0.0])
    bowl = torch.tensor(centre, dtype=DTYPE)
    register_pair(
        "branin-nearest-test",
        target=branin_problem(),
        sources=[lambda X: ((X - bowl) ** 2).sum(-1)],
        dim=2,
    )
    try:
        d = get_pair("branin-nearest-test").diagnostics[0]["optimum_distance"]
    finally:
        FAMILIES._items.pop("branin-nearest-test")
    nearest = np.linalg.norm(minimisers - centre, axis=1).min()
    assert nearest == pytest.approx(0.061, abs=1e-6)
    assert d == pytest.approx(nearest, abs=1e-4)


@pytest.mark.parametrize("dim", [3, 6])
def test_hartmann_matches_botorchs_function_and_optimizers(dim):
    from botorch.test_functions.synthetic import Hartmann

    reference = Hartmann(dim=dim)
    pair = get_pair(f"hartmann:dim={dim}")
    X = reference_points(dim)[:64]
    # BoTorch keeps its constants in float32 buffers: agreement to 1e-7, not 1e-12.
    np.testing.assert_allclose(pair.target(X).numpy(), reference(X).numpy(), atol=1e-6)
    opt = pair.target.optimum
    assert len(opt.points) == len(reference.optimizers) == 1
    np.testing.assert_allclose(np.array(opt.points), reference.optimizers.numpy(), atol=1e-9)
    assert opt.value == pytest.approx(reference.optimal_value, abs=1e-5)


def test_hartmann_shift_lowers_correlation_and_moves_the_source_optimum():
    near, far = get_pair("hartmann:dim=3,shift=0.0"), get_pair("hartmann:dim=3,shift=0.3")
    assert _pearson(far) < _pearson(near) - 0.02
    x_src = near.sources[0].optimum.x
    x_far = far.sources[0].optimum.x
    assert x_far[0] - x_src[0] == pytest.approx(0.3, abs=0.02)
    assert _pearson(get_pair("hartmann:dim=6,sign=-1")) < -0.9


def test_alpine_sources_are_phase_shifted_by_k_pi_over_12():
    pair = get_pair("alpine:n_sources=6")
    x = torch.linspace(0, 1, 9, dtype=DTYPE).unsqueeze(-1)
    z = -10 + 20 * x[:, 0]
    for k, source in enumerate(pair.sources, start=1):
        expected = z * torch.sin(z + math.pi + k * math.pi / 12) + z / 10
        assert torch.allclose(source(x), expected)
    # Larger shifts, lower correlation with the target.
    r = [_pearson(pair, k) for k in range(6)]
    assert all(a > b for a, b in zip(r, r[1:]))


def test_shift_correlation_decays_smoothly_with_delta():
    r = [_pearson(get_pair(f"shift:base=branin,delta={d}")) for d in (0, 0.1, 0.2, 0.4)]
    assert r[0] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(r, r[1:]))
    assert _pearson(get_pair("shift:base=branin,delta=0.1,sign=-1")) == pytest.approx(-r[1])


def test_shift_displaces_the_source_optimum_by_delta():
    pair = get_pair("shift:base=hartmann3,delta=0.15")
    assert pair.diagnostics[0]["optimum_distance"] == pytest.approx(0.15, abs=0.01)


@pytest.mark.parametrize("instance", range(4))
def test_shifted_branin_is_delta_from_the_nearest_of_its_minimisers(instance):
    """Both Branin copies have several global minimisers; the shifted copy of
    one of the target's lies delta from it, whichever the search found first."""
    pair = get_pair(f"shift:base=branin,delta=0.1,instance={instance}")
    assert len(pair.sources[0].optimum.points) >= 2
    assert pair.diagnostics[0]["optimum_distance"] == pytest.approx(0.1, abs=1e-6)


def test_negate_accepts_any_registered_pair_and_nests():
    inner = get_pair("forrester")
    pair = get_pair("negate:pair=forrester")
    assert pair.name == "negate:pair=forrester:a=0.5,b=10.0,c=-5.0"
    assert _pearson(pair) == pytest.approx(-_pearson(inner))
    twice = get_pair("negate:pair=negate:pair=forrester")
    assert _pearson(twice) == pytest.approx(_pearson(inner))
    with pytest.raises(UserError, match="unknown pair family 'nope'"):
        get_pair("negate:pair=nope")


def test_hpo_surface_is_the_tabulated_cv_error_interpolated_multilinearly():
    from importlib import resources

    from bo_transfer.problems.hpo import grid_values, multilinear

    path = resources.files("bo_transfer.problems").joinpath("data/hpo_grid.npz")
    assert path.stat().st_size < 100_000  # shipped with the package: keep it small
    values = grid_values("svm", "digits")
    m = values.shape[0]
    idx = torch.tensor([[3, 5], [0, 16], [16, 0]])
    at_grid = multilinear(values, idx.to(DTYPE) / (m - 1))
    assert torch.allclose(at_grid, values[idx[:, 0], idx[:, 1]])
    mid = multilinear(values, torch.tensor([[3.5, 5.0]], dtype=DTYPE) / (m - 1))
    assert mid[0] == pytest.approx(float(values[3:5, 5].mean()))
    assert float(values.min()) >= 0.0 and float(values.max()) <= 1.0  # error rates


def test_hpo_pair_optimum_is_the_best_grid_value_and_errors_are_real():
    pair = get_pair("hpo:model=sgd,source=wine,target=iris")
    assert pair.dim == 3
    from bo_transfer.problems.hpo import grid_values

    assert pair.target.optimal_value == pytest.approx(float(grid_values("sgd", "iris").min()))
    # The tuning transfers: good settings on one data set are good on another.
    assert _pearson(get_pair("hpo:model=svm,source=digits,target=breast_cancer")) > 0.5
    with pytest.raises(UserError, match="source and target must be different data sets"):
        get_pair("hpo:source=iris,target=iris")
    with pytest.raises(UserError, match="model='rf' is not one of svm, sgd"):
        get_pair("hpo:model=rf")
