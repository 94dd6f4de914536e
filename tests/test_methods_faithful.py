"""Faithfulness: properties the papers behind the methods promise."""

import numpy as np
import pytest
import torch

from bo_transfer.errors import UserError
from bo_transfer.methods import make_method
from bo_transfer.methods.prior_mean import PriorMean
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import sobol
from bo_transfer.sweep.runner import RunSpec, run_one

NEGATED = "forrester:a=-1.0,b=0.0,c=0.0"  # source = -target
IDENTICAL = "forrester:a=1.0,b=0.0,c=0.0"  # source = target
ANTI_GP = "gp:rho=-0.95,dim=1"


def _target_data(pair, n: int, seed: int = 3):
    X = sobol(n, pair.dim, seed)
    return X, pair.target(X)


def _started(name: str, pair_name: str, options: dict | None = None, n_source: int = 16):
    pair = get_pair(pair_name)
    method = make_method(name, options)
    method.start(pair.source_data(0, n_source), pair.dim, seed=1)
    return pair, method


@pytest.mark.parametrize(("pair_name", "negated"), [(NEGATED, True), (IDENTICAL, False)])
def test_rgpe_gives_a_negated_source_weight_near_zero(pair_name, negated):
    pair, method = _started("rgpe", pair_name)
    X, y = _target_data(pair, 8)
    method.propose(X, y, seed=0)
    source_weight, target_weight = method.trace["weights"][-1]
    assert source_weight + target_weight == pytest.approx(1.0)
    if negated:
        assert source_weight < 0.05
    else:  # the control: a perfect source ranks the data at least as well as the target LOO
        assert source_weight > 0.4


@pytest.mark.parametrize("pair_name", [NEGATED, IDENTICAL])
def test_taf_weights_a_source_by_its_ranking_of_the_target_data(pair_name):
    pair, method = _started("taf", pair_name)
    X, y = _target_data(pair, 8)
    method.propose(X, y, seed=0)
    (weight,) = method.trace["weights"][-1]
    assert weight == (0.0 if pair_name == NEGATED else pytest.approx(0.75))


def test_mtgp_learns_a_negative_task_correlation_only_when_its_kernel_allows_it():
    """The unconstrained IndexKernel learns the anti-correlation; BoTorch's
    PositiveIndexKernel cannot represent it and stays non-negative."""
    learned = {}
    for kernel in ("free", "botorch"):
        pair, method = _started("mtgp", ANTI_GP, {"task_kernel": kernel})
        X, y = _target_data(pair, 6)
        method.propose(X, y, seed=0)
        (learned[kernel],) = method.trace["task_correlation"][-1]
    assert learned["free"] < -0.8
    assert learned["botorch"] >= 0.0


def test_mtgp_botorch_is_botorchs_default_multitask_gp():
    """The named variant builds BoTorch 0.18's defaults: per-task noise, a
    positive index kernel with a Beta prior, Standardize; the fast default
    shares one noise level and uses the free kernel."""
    from botorch.models.kernels.positive_index import PositiveIndexKernel
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.kernels import IndexKernel
    from gpytorch.likelihoods import GaussianLikelihood, HadamardGaussianLikelihood

    models = {}
    for name in ("mtgp", "mtgp-botorch"):
        pair, method = _started(name, ANTI_GP)
        models[name] = method.build(*method.training_data(*_target_data(pair, 4)))
    reference = models["mtgp-botorch"]
    assert isinstance(reference.likelihood, HadamardGaussianLikelihood)
    assert isinstance(reference.covar_module.kernels[1], PositiveIndexKernel)
    assert isinstance(reference.outcome_transform, Standardize)
    fast = models["mtgp"]
    assert type(fast.likelihood) is GaussianLikelihood
    assert type(fast.covar_module.kernels[1]) is IndexKernel


def test_mtgp_warm_start_reaches_the_likelihood_of_a_fit_from_scratch():
    """Carrying the hyperparameters over from the previous iteration (the fast
    default) must not trade model quality for speed: after a few iterations
    the warm-started fit's marginal likelihood is that of an uncapped fit from
    scratch, up to 0.01 nats per data point."""
    from gpytorch.mlls import ExactMarginalLogLikelihood

    pair, warm = _started("mtgp", ANTI_GP)
    _, cold = _started("mtgp", ANTI_GP, {"warm_start": False, "max_iter": 0})
    for n in (4, 5, 6, 7):
        X, y = _target_data(pair, n)
        fits = {"warm": warm.fit(X, y, seed=n), "cold": cold.fit(X, y, seed=n)}
    mll = {}
    for key, model in fits.items():
        model.train()
        with torch.no_grad():
            out = model(*model.train_inputs)
            mll[key] = float(
                ExactMarginalLogLikelihood(model.likelihood, model)(out, model.train_targets)
            )
    assert mll["warm"] >= mll["cold"] - 0.01
    assert warm.config()["warm_start"] and not cold.config()["warm_start"]


def test_pibo_exponent_counts_bo_iterations_after_the_initial_design():
    """log a(x) = log EI(x) + (beta / n) log pi(x) with n the BO iteration after
    the initial design (1 for the first proposal), as the piBO authors' code
    counts it; log pi recomputed here with scipy (equal mixture of isotropic
    Gaussians at the source optima, up to a constant)."""
    from scipy.stats import multivariate_normal

    pair, method = _started("pibo", "forrester", {"beta": 3.0})
    n_init = 3
    X0 = method.initial_design(n_init)
    centres = method.centres
    far = (centres + 0.5) % 1.0  # a point away from the prior's mode
    log_pi_far = np.log(
        np.mean(
            [multivariate_normal(c, method.width**2).pdf(far.numpy()[0]) for c in centres.numpy()]
        )
    )
    log_pi_mode = np.log(
        np.mean(
            [
                multivariate_normal(c, method.width**2).pdf(centres.numpy()[0])
                for c in centres.numpy()
            ]
        )
    )
    for extra, n in ((0, 1), (3, 4)):
        X = torch.cat([X0, sobol(extra, pair.dim, 9)]) if extra else X0
        acqf = method.acquisition(X, pair.target(X))
        point = far[:1].view(1, 1, 1, -1)  # one point of a batch of one run
        with torch.no_grad():
            penalty = float(acqf(point) - acqf.acq_func(point))
        # The prior module drops the Gaussians' normalising constant: compare
        # log pi relative to its value at the mode.
        assert penalty == pytest.approx(3.0 / n * (log_pi_far - log_pi_mode), rel=1e-6)


def test_pibo_starts_near_the_source_optimum():
    pair, method = _started("pibo", "forrester", {"beta": 20.0, "width": 0.05})
    X, y = _target_data(pair, 2)
    x = method.propose(X, y, seed=0)
    assert (x - method.centres).abs().max() < 0.15


def test_bounding_box_searches_only_the_box_around_the_best_source_points():
    pair, method = _started("bounding-box", "forrester", {"n_best": 2, "min_width": 0.1})
    (data,) = pair.source_data(0, 16)
    best = data.X[torch.argsort(data.Y.squeeze(-1))[:2]]
    lo, hi = method.box
    assert (hi - lo).min() >= 0.1 - 1e-12
    assert (best >= lo).all() and (best <= hi).all()
    X = method.initial_design(3)
    x = method.propose(X, pair.target(X), seed=0)
    assert ((torch.cat([X, x]) >= lo) & (torch.cat([X, x]) <= hi)).all()


@pytest.mark.parametrize(
    ("pair_name", "decision"), [(NEGATED, "flip"), (IDENTICAL, "warm"), ("forrester", "warm")]
)
def test_guarded_flips_an_anti_correlated_source_and_keeps_a_good_one(pair_name, decision):
    pair, method = _started("guarded", pair_name)
    X, y = _target_data(pair, 6)
    method.propose(X, y, seed=0)
    assert method.trace["decision"] == [decision]


def test_guarded_abstains_without_evidence_and_trusts_before_min_points():
    pair, method = _started("guarded", NEGATED, {"min_points": 5})
    X, y = _target_data(pair, 4)
    signs, _ = method.source_signs(X, y)
    assert signs.tolist() == [1.0]  # too few points to judge: warm, as prior-mean
    flat = torch.zeros(6, dtype=torch.float64)
    signs, rhos = method.source_signs(sobol(6, 1, 3), flat)
    assert rhos == [0.0] and signs.tolist() == [0.0]  # no evidence either way: cold


def test_prior_mean_learned_weights_turn_an_anti_correlated_source_around():
    pair, method = _started("prior-mean", NEGATED, {"weights": "learned"})
    X, y = _target_data(pair, 6)
    method.propose(X, y, seed=0)
    (weight,) = method.trace["weights"][-1]
    assert weight < 0


def test_prior_mean_cites_the_mean_transfer_it_implements():
    """Source GP posterior means as the target's prior mean is Vizier's transfer
    (Golovin et al. 2017), not HyperBO's pre-trained GP nor ABLR."""
    from bo_transfer.methods import METHODS

    for name in ("prior-mean", "guarded"):
        cls = METHODS.get(name)
        assert "golovin2017google" in cls.bib_key.split(",")
        assert "Golovin" in cls.citation and "Wang" not in cls.citation


def test_prior_mean_uses_every_source_with_equal_weights():
    pair = get_pair("forrester")
    method = PriorMean()
    data = pair.source_data(0, 16) + pair.source_data(1, 16)
    method.start(data, 1, seed=0)
    X = sobol(7, 1, seed=5)
    with torch.no_grad():
        each = method._posteriors.means(X)
        assert torch.allclose(method.prior_mean()(X.unsqueeze(0))[0], each.mean(-1))


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("mtgp", {"task_kernel": "lkj"}, "task_kernel must be one of free, botorch, got 'lkj'"),
        ("mtgp", {"noise": "task"}, "noise must be one of shared, per-task, got 'task'"),
        ("mtgp", {"max_iter": -1}, "max_iter must be an integer >= 0, got -1"),
        ("mtgp", {"warm_start": "yes"}, "option 'warm_start' must be true or false, got 'yes'"),
        ("mtgp-botorch", {"noise": "shared"}, "method 'mtgp-botorch' has no option 'noise'"),
        ("cold-gp", {"acquisition": "pi"}, "acquisition must be one of logei, ei, ucb, got 'pi'"),
        ("prior-mean", {"weights": "sum"}, "weights must be 'mean' or 'learned', got 'sum'"),
        ("guarded", {"z": 0}, "z must be positive, got 0"),
    ],
)
def test_bad_method_options_are_one_line_user_errors(name, options, message):
    with pytest.raises(UserError, match=message):
        make_method(name, options)


def test_per_iteration_diagnostics_are_stored_with_the_run():
    spec = RunSpec(pair=NEGATED, method="guarded", seed=0, budget=7, n_init=3, n_source=12)
    result = run_one(spec)
    assert result.status == "done", result.error
    trace = result.metadata["trace"]
    assert len(trace["decision"]) == len(trace["spearman"]) == 4
    assert trace["decision"][-1] == "flip"
