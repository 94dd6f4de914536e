"""The pool-based contract every registered method keeps on a tabular target:
it proposes only configurations of the table it has not evaluated yet."""

from __future__ import annotations

import json

import pytest
import torch
from botorch.acquisition import LogExpectedImprovement
from conftest import REGISTERED_METHODS, SLOW_METHODS

from bo_transfer.methods import METHODS, Method, base, batch, make_method
from bo_transfer.methods.discrete import design, maximize_discrete
from bo_transfer.problems import get_pair, register_table_pairs
from bo_transfer.problems.families import FAMILIES
from bo_transfer.sweep import RunSpec, Sweep, run_one
from bo_transfer.sweep.block import run_block
from bo_transfer.sweep.store import ResultStore

PAIR = "hpob:space=5971,dataset=10093"
SLOW = set(SLOW_METHODS)
ALL_METHODS = [
    pytest.param(m, marks=pytest.mark.slow) if m in SLOW else m for m in REGISTERED_METHODS
]


@pytest.fixture(autouse=True)
def _cheap_acquisition_optimisation(monkeypatch):
    for module in (base, batch):
        monkeypatch.setattr(module, "NUM_RESTARTS", 2)
        monkeypatch.setattr(module, "RAW_SAMPLES", 64)


def _rows(pair) -> set[tuple[float, ...]]:
    return {tuple(x) for x in pair.target.X.tolist()}


@pytest.mark.parametrize("method_name", ALL_METHODS)
def test_method_proposes_only_remaining_candidates(method_name):
    """Driven by hand (no runner to repair anything): the initial design and
    three proposals are distinct rows of the table, never one evaluated before."""
    pair = get_pair(PAIR)
    method = make_method(method_name)
    free = torch.ones(len(pair.target.X), dtype=torch.bool)
    method.candidates, method.given_design = pair.target.X, pair.target.initial_design(0)
    method.start(pair.source_data(0, n_source=12), pair.dim, seed=11)
    evaluated = torch.empty(0, pair.dim, dtype=torch.float64)
    X = method.initial_design(5)
    for step in range(4):
        rows = pair.target.rows(X)
        assert torch.equal(pair.target.X[rows], X), "a point off the table"
        assert free[rows].all(), "a configuration evaluated before"
        assert len(set(rows.tolist())) == len(rows)
        free[rows] = False
        evaluated = torch.cat([evaluated, X])
        method.candidates = pair.target.X[free]
        if step < 3:
            X = method.propose(evaluated, pair.target(evaluated), seed=5 + step)


def test_every_method_runs_end_to_end_on_an_hpob_pair(tiny_hpob_results):
    """All registered methods (slow ones under ``-m slow``) through the sweep:
    every evaluated point a row of the table, none twice, nothing repaired,
    contract columns filled, normalised regret in [0, 1]."""
    df, out = tiny_hpob_results
    pair = get_pair(PAIR)
    rows = _rows(pair)
    methods = set(df["method"])
    assert methods == set(REGISTERED_METHODS) - SLOW
    for _, run in df.groupby("method"):
        xs = [tuple(json.loads(x)) for x in run.sort_values("iteration")["x"]]
        assert len(xs) == 9 and all(x in rows for x in xs) and len(set(xs)) == 9
    for col in ("pair", "family", "method", "seed", "iteration", "y", "best_y", "regret"):
        assert df[col].notna().all()
    assert df["normalized_regret"].between(0, 1).all()
    with ResultStore(out) as store:
        for meta in store.runs_frame()["metadata"]:
            meta = json.loads(meta) if isinstance(meta, str) else meta
            counters = ("repaired_proposals", "off_table_proposals", "table_padding")
            assert all(meta[c] == 0 for c in counters), meta


@pytest.mark.slow
@pytest.mark.parametrize("method_name", sorted(SLOW))
def test_slow_methods_run_end_to_end_on_an_hpob_pair(method_name):
    result = run_one(RunSpec(get_pair(PAIR).name, method_name, 0, 8, 5, 12))
    assert result.status == "done", result.error
    assert len({tuple(x) for x in result.X}) == 8 and result.metadata["repaired_proposals"] == 0


def test_discrete_maximisation_picks_the_best_candidate_by_enumeration():
    """Against an independent enumeration of the acquisition values."""
    pair = get_pair(PAIR)
    X = pair.target.X[:6]
    y = pair.target(X)
    method = make_method("cold-gp")
    method.start([], pair.dim, 0)
    model = method.fit_gp(X, y)
    acqf = LogExpectedImprovement(model, best_f=(-y).max())
    candidates = pair.target.X[6:]
    with torch.no_grad():
        values = torch.stack([acqf(c.view(1, 1, -1))[0] for c in candidates])
    x = maximize_discrete(acqf, candidates)
    assert torch.equal(x, candidates[int(values.argmax())].unsqueeze(0))
    # A box keeps only the candidates inside it (all of them when none is).
    box = torch.stack([torch.zeros(pair.dim), torch.full((pair.dim,), 0.5)]).double()
    in_box = (candidates <= 0.5).all(-1)
    assert torch.equal(
        maximize_discrete(acqf, candidates, box),
        candidates[in_box][int(values[in_box].argmax())].unsqueeze(0),
    )
    empty = torch.stack([torch.full((pair.dim,), 2.0), torch.full((pair.dim,), 3.0)]).double()
    assert torch.equal(maximize_discrete(acqf, candidates, empty), x)


def test_design_moves_wishes_to_distinct_nearest_candidates_then_given_then_random():
    candidates = torch.tensor([[0.0], [0.2], [0.4], [0.6], [0.8], [1.0]], dtype=torch.float64)
    wishes = torch.tensor([[0.21], [0.19], [0.95]], dtype=torch.float64)
    given = torch.tensor([[0.2], [0.6]], dtype=torch.float64)
    out = design(candidates, 5, seed=0, first=wishes, given=given)
    # 0.21 -> 0.2; 0.19 -> 0.2 is taken, so 0.0 or 0.4 (0.0 and 0.4 are equally near:
    # the first in table order); 0.95 -> 1.0; given 0.2 is taken, 0.6 is new.
    assert out[:4].flatten().tolist() == [0.2, 0.0, 1.0, 0.6]
    assert out[4].item() in (0.4, 0.8)
    assert torch.equal(design(candidates, 6, 3), design(candidates, 6, 3))
    assert sorted(design(candidates, 6, 3).flatten().tolist()) == candidates.flatten().tolist()


class _Continuous(Method):
    """A third-party method that knows nothing about tables: it proposes the
    same off-table point every time."""

    def propose(self, X, y, seed):
        return torch.full((1, self.dim), 0.5, dtype=torch.float64)


def test_runner_keeps_a_table_unaware_method_on_the_table(monkeypatch):
    monkeypatch.setitem(METHODS._items, "continuous-test", _Continuous)
    result = run_one(RunSpec(get_pair(PAIR).name, "continuous-test", 7, 10, 4, 8))
    assert result.status == "done", result.error
    rows = _rows(get_pair(PAIR))
    assert all(tuple(x) in rows for x in result.X) and len({tuple(x) for x in result.X}) == 10
    # First the nearest row to (0.5, ...), then (that one being taken) the next nearest.
    assert result.metadata["off_table_proposals"] == 6


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory):
    """A user table with a target task of only 6 configurations."""
    path = tmp_path_factory.mktemp("table") / "runs.csv"
    lines = ["task,a,b,loss"]
    for task, n in (("small", 6), ("other", 20)):
        for i in range(n):
            lines.append(
                f"{task},{i / n:.4f},{(i * 7 % n) / n:.4f},{(i / n - 0.3) ** 2 + (task == 'other')}"
            )
    path.write_text("\n".join(lines) + "\n")
    if "tiny-table" not in FAMILIES:
        register_table_pairs("tiny-table", path, "task", "loss", ["a", "b"])
    return "tiny-table:task=small"


def test_random_samples_the_table_without_replacement_then_pads_with_the_optimum(tiny_table):
    """Budget 9 on 6 configurations: every row once, then the best row again
    (HPO-B's handler pads its curves with the optimum the same way)."""
    pair = get_pair(tiny_table)
    result = run_one(RunSpec(pair.name, "random", 0, budget=9, n_init=2, n_source=8))
    assert result.status == "done", result.error
    assert sorted(map(tuple, result.X[:6])) == sorted(_rows(pair))
    assert result.X[6:] == [list(pair.target.optimum.x)] * 3
    assert result.metadata["table_padding"] == 3 and min(result.y) == pair.target.optimal_value


def test_batched_seeds_on_a_table_match_sequential_runs():
    base_spec = {
        "seeds": [0, 1],
        "budget": 8,
        "n_init": 5,
        "n_source": 8,
        "pairs": [PAIR],
        "methods": ["cold-gp"],
    }
    runs = Sweep.from_dict(base_spec).runs()
    sequential = [run_one(s) for s in runs]
    batched = run_block(runs)
    for a, b in zip(sequential, batched):
        assert b.status == "done", b.error
        assert a.X == b.X  # the same candidates chosen, seed by seed


def test_numerical_failure_falls_back_to_a_random_remaining_row(monkeypatch):
    from botorch.exceptions.errors import CandidateGenerationError

    def failing(self, X, y, seed):
        raise CandidateGenerationError("boom")

    monkeypatch.setattr(METHODS.get("cold-gp"), "propose", failing)
    result = run_one(RunSpec(get_pair(PAIR).name, "cold-gp", 0, 9, 5, 8))
    assert result.status == "done" and result.metadata["sobol_fallbacks"] == 4
    rows = _rows(get_pair(PAIR))
    assert all(tuple(x) in rows for x in result.X) and len({tuple(x) for x in result.X}) == 9


def test_run_is_deterministic_on_a_table():
    spec = RunSpec(get_pair(PAIR).name, "pibo", 2, 9, 5, 8)
    a, b = run_one(spec), run_one(spec)
    assert a.X == b.X and a.y == b.y
