"""Seed blocks (``batch_seeds``): S seeds of cold-gp as one batched model."""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import replace

import pytest
import torch

from bo_transfer.cli import main as cli_main
from bo_transfer.errors import SpecError
from bo_transfer.methods.base import make_method
from bo_transfer.methods.seed_batch import propose_batch
from bo_transfer.sweep import LocalExecutor, ResultStore, RunSpec, Sweep, run_one, run_sweep
from bo_transfer.sweep.batched import assign_blocks, run_block, seed_blocks
from bo_transfer.sweep.executors import run_chunk

PAIR = "forrester"


def block(seeds=(0, 1, 2), budget=6, method="cold-gp", pair=PAIR):
    specs = [RunSpec(pair, method, s, budget, 3, 4) for s in seeds]
    return assign_blocks(specs, len(seeds))


def sequential(spec: RunSpec) -> RunSpec:
    return replace(spec, seed_batch=1, seed_block=())


def test_a_batched_step_is_each_seeds_own_step():
    """One batched fit + acquisition optimisation proposes what each seed's
    ``gp_step`` proposes with the same data and seed, and carries the same
    hyperparameters over to the next iteration."""
    S, n, d = 3, 8, 2
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(S, n, d, generator=gen, dtype=torch.float64)
    y = torch.sin(6 * X).sum(-1)
    seeds = [11, 12, 13]
    alone, batched = [], []
    for methods in (alone, batched):
        for _ in range(S):
            methods.append(make_method("cold-gp"))
            methods[-1].start([], d, 0)
    own = []
    for s in range(S):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seeds[s])
            own.append(alone[s].propose(X[s], y[s], seeds[s]))
    with torch.random.fork_rng(devices=[]):
        x = propose_batch(batched, X, y, seeds)
    assert x.shape == (S, d)
    torch.testing.assert_close(x, torch.cat(own), atol=1e-5, rtol=0)
    for a, b in zip(alone, batched):
        for name, value in a._previous["target"].items():
            torch.testing.assert_close(b._previous["target"][name], value, atol=1e-6, rtol=0)


def test_the_same_block_twice_gives_identical_numbers():
    first, second = run_block(block()), run_block(block())
    for a, b in zip(first, second):
        assert a.status == b.status == "done"
        assert a.X == b.X and a.y == b.y


def test_batched_results_have_the_shape_of_sequential_ones():
    specs = block()
    batched = run_block(specs)
    for spec, result in zip(specs, batched):
        alone = run_one(sequential(spec))
        assert spec.key != sequential(spec).key
        assert result.spec == spec and result.status == "done"
        assert set(result.to_dict()) == set(alone.to_dict())
        for name in ("X", "y", "elapsed_s"):
            assert len(getattr(result, name)) == len(getattr(alone, name)) == spec.budget
        assert set(alone.metadata) <= set(result.metadata)
        assert set(alone.timings) == set(result.timings)
        assert result.metadata["seed_batch"] == 3 and result.metadata["batch_fallbacks"] == 0
        assert result.metadata["method"] == alone.metadata["method"]
        # same initial design and seeds as the run alone: the first proposal agrees
        torch.testing.assert_close(
            torch.tensor(result.X[:4]), torch.tensor(alone.X[:4]), atol=1e-5, rtol=0
        )


def test_blocks_are_consecutive_seeds_in_spec_order_per_pair_and_method():
    sweep = Sweep.from_dict(
        {
            "seeds": [5, 3, 9, 1, 7],
            "budget": 5,
            "n_init": 3,
            "batch_seeds": 2,
            "pairs": ["forrester", "forrester:a=-1.0,b=0.0,c=0.0"],
            "methods": ["cold-gp", "random"],
        }
    )
    runs = sweep.runs()
    assert [r.seed for r in runs] == [5, 3, 9, 1, 7] * 4  # order unchanged
    tasks = seed_blocks(runs)
    cold = [[r.seed for r in t] for t in tasks if t[0].method == "cold-gp"]
    assert cold == [[5, 3], [9, 1], [7]] * 2
    assert all(len(t) == 1 and t[0].seed_batch == 1 for t in tasks if t[0].method == "random")
    assert len({r.key for r in runs}) == len(runs)


def test_two_entries_of_one_method_are_blocked_apart():
    entries = ["cold-gp", {"name": "cold-gp", "label": "again"}]
    runs = Sweep.from_dict(sweep_dict(seeds=2, batch_seeds=2, methods=entries)).runs()
    tasks = [[(r.method_label, r.seed) for r in task] for task in seed_blocks(runs)]
    assert tasks == [[("cold-gp", 0), ("cold-gp", 1)], [("again", 0), ("again", 1)]]


def test_batching_is_in_the_key_only_when_on():
    default = Sweep.from_dict(sweep_dict()).runs()
    plain = Sweep.from_dict(sweep_dict(batch_seeds=1)).runs()
    batched = Sweep.from_dict(sweep_dict(batch_seeds=2)).runs()
    assert [r.key for r in plain] == [r.key for r in default]
    for a, b in zip(plain, batched):
        assert (a.key == b.key) == (a.method == "random")


def sweep_dict(**changes):
    base = {
        "seeds": 3,
        "budget": 5,
        "n_init": 3,
        "n_source": 4,
        "pairs": [PAIR],
        "methods": ["cold-gp", "random"],
    }
    return {**base, **changes}


@pytest.mark.parametrize("bad", [0, -2, "8", 2.5, True])
def test_bad_batch_seeds_name_the_field(bad):
    with pytest.raises(SpecError, match="batch_seeds: must be a positive integer"):
        Sweep.from_dict(sweep_dict(batch_seeds=bad))


def test_bad_batch_seeds_is_exit_2_one_line(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(
        'seeds = 2\nbudget = 4\nn_init = 3\nbatch_seeds = 0\npairs = ["forrester"]\n'
        'methods = ["cold-gp"]\n'
    )
    code = cli_main(["run", str(spec), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "batch_seeds" in err
    assert not (tmp_path / "out").exists()


class Interrupted:
    """Stops the sweep after ``n`` results, like a killed driver."""

    def __init__(self, n):
        self.n = n

    def run(self, specs):
        yield from itertools.islice(LocalExecutor(1).run(specs), self.n)


def stored(directory):
    with ResultStore(directory) as store:
        frame = store.runs_frame()
    return frame


def test_an_interrupted_batched_sweep_resumes_to_the_same_numbers(tmp_path):
    from bo_transfer.analysis import load_results

    sweep = Sweep.from_dict(sweep_dict(batch_seeds=2))
    whole = run_sweep(sweep, tmp_path / "whole", executor=LocalExecutor(1))
    assert (whole.done, whole.failed) == (6, 0)
    first = run_sweep(sweep, tmp_path / "resumed", executor=Interrupted(1))
    assert first.done == 1  # one run of the first block stored, its partner not
    again = run_sweep(sweep, tmp_path / "resumed", executor=LocalExecutor(1))
    assert (again.done, again.skipped) == (5, 1)
    a = load_results(tmp_path / "whole").drop(columns="elapsed_s")
    b = load_results(tmp_path / "resumed").drop(columns="elapsed_s")
    key = ["run_key", "iteration"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    assert a.equals(b)


def test_a_slurm_chunk_runs_its_blocks_in_lockstep():
    specs = block()
    direct = run_block(specs)
    chunked = run_chunk(specs)
    assert [r.y for r in chunked] == [r.y for r in direct]


def test_a_numerical_failure_of_the_batched_step_falls_back_to_each_seeds_step(monkeypatch):
    """With every batched fit failing, each run takes its own sequential step
    and so reproduces the run alone exactly."""
    from botorch.exceptions.errors import ModelFittingError

    import bo_transfer.methods.seed_batch as seed_batch

    def failing(mll, *args, **kwargs):
        raise ModelFittingError("injected: all attempts to fit the model have failed")

    monkeypatch.setattr(seed_batch, "fit_gpytorch_mll", failing)
    specs = block()
    for spec, result in zip(specs, run_block(specs)):
        assert result.status == "done"
        assert result.metadata["batch_fallbacks"] == spec.budget - spec.n_init
        assert "injected" in result.metadata["batch_fallback_errors"][0]
        alone = run_one(sequential(spec))
        assert result.X == alone.X and result.y == alone.y


def test_a_bug_in_the_batched_step_fails_the_block_not_other_tasks(monkeypatch):
    import bo_transfer.sweep.batched as batched

    def buggy(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(batched, "propose_batch", buggy)
    results = run_block(block())
    assert all(r.status == "failed" and "KeyError" in r.error for r in results)
    assert all(len(r.y) == 3 for r in results)  # the evaluated initial design is kept


def test_a_failing_run_fails_alone_and_nan_values_are_imputed_per_seed(monkeypatch):
    from bo_transfer.problems import get_pair
    from bo_transfer.sweep.runner import RunLoop

    pair = get_pair(PAIR)
    original_eval = type(pair.target).evaluate

    def sometimes_nan(self, X):
        y = original_eval(self, X)
        return y.masked_fill(X[..., 0] > 0.8, float("nan"))

    original_accept = RunLoop.accept

    def accept(self, x, seed, started):
        if self.spec.seed == 1 and len(self.y) == 4:
            raise RuntimeError("injected evaluation failure")
        return original_accept(self, x, seed, started)

    monkeypatch.setattr(type(pair.target), "evaluate", sometimes_nan)
    monkeypatch.setattr(RunLoop, "accept", accept)
    results = run_block(block(seeds=(0, 1, 2, 3), budget=8))
    assert [r.status for r in results] == ["done", "failed", "done", "done"]
    assert "injected evaluation failure" in results[1].error and len(results[1].y) == 4
    for r in results:
        n_nan = sum(math.isnan(v) for v in r.y)
        if r.status == "done":
            assert len(r.y) == 8
            assert r.metadata["nonfinite_values"] == n_nan - math.isnan(r.y[-1])


def test_unsupported_methods_run_as_before_in_a_batched_sweep(tmp_path):
    plain = run_sweep(
        Sweep.from_dict(sweep_dict(methods=["random"])), tmp_path / "a", LocalExecutor(1)
    )
    batched = run_sweep(
        Sweep.from_dict(sweep_dict(methods=["random"], batch_seeds=3)),
        tmp_path / "b",
        LocalExecutor(1),
    )
    assert plain.done == batched.done == 3
    assert sorted(stored(tmp_path / "a")["key"]) == sorted(stored(tmp_path / "b")["key"])


@pytest.mark.slow
def test_batched_final_regrets_match_sequential_ones_in_distribution():
    """cold-gp on a GP pair over 24 seeds: the final regrets of batched runs
    (blocks of 8) and sequential runs are not significantly different."""
    from scipy import stats

    pair = "gp:rho=0.9,dim=2"
    specs = [RunSpec(pair, "cold-gp", s, 15, 3, 32) for s in range(24)]
    batched_specs = assign_blocks(specs, 8)
    seq = [run_one(s) for s in specs]
    bat = [r for task in seed_blocks(batched_specs) for r in run_block(task)]
    assert all(r.status == "done" for r in seq + bat)
    a = [min(r.y) - r.optimal_value for r in seq]
    b = [min(r.y) - r.optimal_value for r in bat]
    assert stats.mannwhitneyu(a, b, alternative="two-sided").pvalue > 0.01
    differences = [x - y for x, y in zip(a, b) if abs(x - y) > 1e-9]
    if len(differences) >= 6:
        assert stats.wilcoxon(differences).pvalue > 0.01
    spread = statistics.quantiles(a, n=4)[2] - statistics.quantiles(a, n=4)[0]
    assert abs(statistics.median(a) - statistics.median(b)) <= 0.25 * spread + 1e-9


def _executor(name, tmp_path):
    from bo_transfer.sweep import DaskExecutor, SlurmExecutor

    if name == "two":
        return LocalExecutor(2)
    if name == "dask":
        pytest.importorskip("distributed")
        return DaskExecutor("local", workers=2)
    pytest.importorskip("submitit")
    return SlurmExecutor(tmp_path / "slurm", chunk_size=3, cluster="local")


@pytest.mark.parametrize("name", ["two", "submitit", pytest.param("dask", marks=pytest.mark.slow)])
def test_every_executor_runs_blocks_to_the_same_numbers(tmp_path, name):
    from bo_transfer.analysis import load_results

    sweep = Sweep.from_dict(sweep_dict(seeds=4, methods=["cold-gp"], batch_seeds=2))
    frames = []
    for directory, executor in (("one", LocalExecutor(1)), (name, _executor(name, tmp_path))):
        summary = run_sweep(sweep, tmp_path / directory, executor=executor)
        assert (summary.done, summary.failed) == (4, 0), summary.lines()
        frames.append(load_results(tmp_path / directory).drop(columns="elapsed_s"))
    assert frames[0].equals(frames[1])
