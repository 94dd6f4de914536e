"""Source data options, observed-data sources and user-built pairs in a sweep."""

from __future__ import annotations

import pytest
import torch

from bo_transfer.errors import SpecError, UserError
from bo_transfer.problems import FAMILIES, ObservedSource, get_pair, register_pair
from bo_transfer.problems.base import DTYPE
from bo_transfer.sweep import LocalExecutor, Sweep, run_sweep
from bo_transfer.sweep.runner import RunSpec

BASE = {"seeds": 2, "budget": 5, "n_init": 3, "n_source": 8, "pairs": ["forrester"]}


def test_trajectory_design_is_deterministic_and_concentrates_near_the_source_optimum():
    pair = get_pair("forrester")
    (traj,) = pair.source_data(0, 10, design="trajectory")
    pair._trajectories.clear()  # recompute, as another process would
    (again,) = pair.source_data(0, 10, design="trajectory")
    assert torch.equal(traj.X, again.X) and torch.equal(traj.Y, again.Y)
    (sob,) = pair.source_data(0, 10, design="sobol")
    x_star = pair.sources[0].optimum.x[0]
    # A BO run spends its later points near the optimum; Sobol points do not.
    assert (traj.X[-4:, 0] - x_star).abs().max() < 0.05
    assert (sob.X[:, 0] - x_star).abs().median() > 0.1
    assert torch.equal(pair.sources[0](traj.X), traj.Y.squeeze(-1))


def test_noise_is_a_fraction_of_the_source_range_and_deterministic_per_seed():
    pair = get_pair("forrester")
    (clean,) = pair.source_data(3, 400)
    (noisy,) = pair.source_data(3, 400, noise=0.1)
    (again,) = pair.source_data(3, 400, noise=0.1)
    assert torch.equal(noisy.X, clean.X) and torch.equal(noisy.Y, again.Y)
    std = float((noisy.Y - clean.Y).std())
    assert std == pytest.approx(0.1 * pair.sources[0].value_range, rel=0.15)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"design": "grid"}, "source_design must be one of sobol, trajectory, got 'grid'"),
        ({"noise": -0.1}, "source_noise must be a finite number >= 0"),
    ],
)
def test_bad_source_options_are_user_errors(options, message):
    with pytest.raises(UserError, match=message):
        get_pair("forrester").source_data(0, 4, **options)


def test_spec_validates_source_options_and_they_enter_the_run_key():
    with pytest.raises(SpecError) as info:
        Sweep.from_dict({**BASE, "methods": ["random"], "source_design": "grd", "source_noise": -1})
    assert "source_design: must be one of sobol, trajectory, got 'grd'" in str(info.value)
    assert "source_noise: must be a number >= 0" in str(info.value)
    plain = Sweep.from_dict({**BASE, "methods": ["random"]}).runs()[0]
    traj = Sweep.from_dict({**BASE, "methods": ["random"], "source_design": "trajectory"}).runs()[0]
    noisy = Sweep.from_dict({**BASE, "methods": ["random"], "source_noise": 0.05}).runs()[0]
    assert len({plain.key, traj.key, noisy.key}) == 3
    # Runs stored before the options existed keep their keys.
    old = RunSpec(plain.pair, "random", plain.seed, 5, 3, 8)
    assert old.key == plain.key


def test_a_sweep_with_noisy_trajectory_sources_runs_and_warm_starts_from_them(tmp_path):
    spec = {
        **BASE,
        "seeds": 1,
        "n_source": 6,
        "source_design": "trajectory",
        "source_noise": 0.05,
        "methods": ["init-transfer"],
    }
    summary = run_sweep(Sweep.from_dict(spec), tmp_path, executor=LocalExecutor(1))
    assert summary.failed == 0, summary.lines()


def _sphere(X):
    return ((X - 0.3) ** 2).sum(-1)


def test_user_built_pair_from_callables_and_csv_runs_in_a_sweep(tmp_path):
    csv = tmp_path / "past.csv"
    # Past experiments in native bounds: x in [-1, 1], y in [0, 10], objective maximised.
    rows = ["x,y,score"] + [
        f"{-1 + 2 * a},{10 * b},{-(((a - 0.35) ** 2) + ((b - 0.3) ** 2))}"
        for a in (0.1, 0.3, 0.5, 0.7, 0.9)
        for b in (0.2, 0.4, 0.6)
    ]
    csv.write_text("\n".join(rows) + "\n")
    observed = ObservedSource.from_csv(
        csv, inputs=["x", "y"], objective="score", bounds=[(-1, 1), (0, 10)], maximize=True
    )
    assert observed.X.shape == (15, 2) and float(observed.X.max()) <= 1.0
    name = register_pair(
        "my-test-pair", target=_sphere, sources=[lambda X: _sphere(X) + 0.1, observed], dim=2
    )
    try:
        pair = get_pair(name)
        assert pair.name == "my-test-pair" and len(pair.sources) == 2
        d = pair.diagnostics
        assert d[0]["pearson"] == pytest.approx(1.0)
        assert d[1]["pearson"] > 0.9  # measured on the observed points
        data = pair.source_data(0, 4)
        assert data[0].X.shape == (4, 2) and torch.equal(data[1].X, observed.X)
        negated = get_pair(f"negate:pair={name}")
        assert negated.diagnostics[1]["pearson"] == pytest.approx(-d[1]["pearson"])
        spec = {**BASE, "seeds": 1, "pairs": [name], "methods": ["cold-gp", "prior-mean"]}
        summary = run_sweep(Sweep.from_dict(spec), tmp_path / "sweep", executor=LocalExecutor(1))
        assert summary.failed == 0 and summary.done == 2, summary.lines()
    finally:
        FAMILIES._items.pop("my-test-pair")


@pytest.mark.parametrize(
    "content, message",
    [
        ("x,score\n0.5,1\n", r"no column 'y'; columns: x, score"),
        ("x,y,score\n0.5,2,1\n2.0,3,1\n", r"x=2\.0 is outside \[-1, 1\]"),
        ("x,y,score\n0.5,2,abc\n", r"non-numeric value"),
    ],
)
def test_bad_csv_sources_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        ObservedSource.from_csv(path, ["x", "y"], "score", [(-1, 1), (0, 10)])


def test_register_pair_refuses_bad_names_and_mismatched_dims():
    with pytest.raises(UserError, match="without ':' or ','"):
        register_pair("a:b", target=_sphere, sources=[_sphere], dim=2)
    obs = ObservedSource(torch.rand(4, 3, dtype=DTYPE), torch.rand(4, dtype=DTYPE))
    with pytest.raises(UserError, match="has dim 3, the target has dim 2"):
        register_pair("dim-mismatch", target=_sphere, sources=[obs], dim=2)
    assert "dim-mismatch" not in FAMILIES
