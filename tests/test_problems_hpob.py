"""HPO-B pairs read from files in HPO-B's own layout (written by the test
session, see ``conftest.hpob_dir``), and the tabular target they build on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from bo_transfer.errors import UserError
from bo_transfer.problems import get_pair
from bo_transfer.problems import hpob as hpob_module
from bo_transfer.problems.families import canonical_pair_name
from bo_transfer.problems.hpob import HPOB_DIR_ENV, SEEDS
from bo_transfer.problems.hpob_synthetic import SyntheticSpace, write_synthetic_hpob
from bo_transfer.problems.pair import _build_pair
from bo_transfer.problems.tabular import TabularProblem
from bo_transfer.sweep import RunSpec, Sweep, run_one, run_sweep

PAIR = "hpob:space=5971,dataset=10093"
SMALL = {"seeds": 3, "budget": 6, "n_init": 2}


def _json(root, name):
    with open(root / name) as fh:
        return json.load(fh)


# The tabular target.


def test_tabular_problem_returns_recorded_values_and_the_tables_optimum_and_range():
    X = torch.tensor([[0.1, 0.2], [0.5, 0.5], [0.9, 0.0], [0.3, 0.8]], dtype=torch.float64)
    y = torch.tensor([3.0, -1.0, 2.5, 7.0], dtype=torch.float64)
    problem = TabularProblem(X, y, "t")
    assert torch.equal(problem(X), y)
    assert problem.optimal_value == -1.0 and problem.optimum.x == (0.5, 0.5)
    assert problem.value_range == 8.0  # the table's range, not a Sobol sample's
    # Off the table: the nearest configuration's value.
    assert problem(torch.tensor([[0.85, 0.05], [0.3, 0.75]], dtype=torch.float64)).tolist() == [
        2.5,
        7.0,
    ]


def test_repeated_configurations_merge_into_their_mean_and_designs_follow():
    X = torch.tensor([[0.1, 0.2], [0.5, 0.5], [0.1, 0.2], [0.9, 0.0]], dtype=torch.float64)
    y = torch.tensor([1.0, 2.0, 3.0, 0.5], dtype=torch.float64)
    problem = TabularProblem(X, y, "t", designs=[[2, 0, 3], [1]])
    assert problem.X.tolist() == [[0.1, 0.2], [0.5, 0.5], [0.9, 0.0]]  # first-occurrence order
    assert problem.y.tolist() == [2.0, 2.0, 0.5] and problem.merged_duplicates == 1
    # Rows 2 and 0 are one configuration: the design names it once.
    assert problem.initial_design(0).tolist() == [[0.1, 0.2], [0.9, 0.0]]
    assert problem.initial_design(1).tolist() == [[0.5, 0.5]]
    assert problem.initial_design(2) is None


@pytest.mark.parametrize(
    "X, y, message",
    [
        ([[0.1], [1.5]], [1.0, 2.0], "unit cube"),
        ([[0.1], [0.5]], [1.0, 1.0], "nothing to optimise"),
        ([[0.1], [0.5]], [1.0, float("nan")], "finite"),
    ],
)
def test_bad_tables_are_one_line_errors(X, y, message):
    with pytest.raises(UserError, match=message):
        TabularProblem(torch.tensor(X), torch.tensor(y), "t")


# HPO-B's files.


def test_pair_is_the_files_task_negated_with_its_meta_train_data_sets_as_sources(hpob_dir):
    train, test = (
        _json(hpob_dir, "meta-train-dataset.json"),
        _json(hpob_dir, "meta-test-dataset.json"),
    )
    pair = get_pair(PAIR)
    task = test["5971"]["10093"]
    assert pair.target.X.tolist() == task["X"]
    # Accuracy is maximised in HPO-B; every problem here is minimised.
    assert pair.target.y.tolist() == [-v[0] for v in task["y"]]
    assert pair.target.optimal_value == -max(v[0] for v in task["y"])
    assert [s.name for s in pair.sources] == [f"hpob-5971-{d}" for d in sorted(train["5971"])]
    for source, dataset in zip(pair.sources, sorted(train["5971"])):
        assert source.X.tolist() == train["5971"][dataset]["X"]
        assert source.y.tolist() == [-v[0] for v in train["5971"][dataset]["y"]]


def test_seed_s_starts_from_hpob_design_test_s_then_random_designs(hpob_dir):
    inits = _json(hpob_dir, "bo-initializations.json")["5971"]["10093"]
    X = _json(hpob_dir, "meta-test-dataset.json")["5971"]["10093"]["X"]
    pair = get_pair(PAIR)
    for s, key in enumerate(SEEDS):
        result = run_one(RunSpec(pair.name, "random", s, budget=6, n_init=5, n_source=8))
        assert result.status == "done", result.error
        assert result.X[:5] == [X[i] for i in inits[key]]
        assert result.metadata["given_design"] is True
    beyond = run_one(RunSpec(pair.name, "random", len(SEEDS), budget=6, n_init=5, n_source=8))
    assert beyond.metadata["given_design"] is False
    assert all(x in X for x in beyond.X) and len({tuple(x) for x in beyond.X}) == 6


def test_normalized_regret_is_hpobs(tiny_hpob_results, hpob_dir):
    """HPO-B's measure, computed here from the JSON alone: after each
    evaluation, ``(max y - best y so far) / (max y - min y)`` of the task."""
    df, _ = tiny_hpob_results
    y = np.array([v[0] for v in _json(hpob_dir, "meta-test-dataset.json")["5971"]["10093"]["y"]])
    table = {
        tuple(x): v
        for x, v in zip(_json(hpob_dir, "meta-test-dataset.json")["5971"]["10093"]["X"], y)
    }
    run = df[(df["pair"] == canonical_pair_name(PAIR)) & (df["method"] == "cold-gp")]
    run = run.sort_values("iteration")
    accuracies = np.array([table[tuple(json.loads(x))] for x in run["x"]])
    expected = (y.max() - np.maximum.accumulate(accuracies)) / (y.max() - y.min())
    np.testing.assert_allclose(run["normalized_regret"].to_numpy(), expected, rtol=0, atol=1e-12)


def test_sources_choose_splits_and_the_largest_data_sets(hpob_dir):
    train = _json(hpob_dir, "meta-train-dataset.json")["5971"]
    val = _json(hpob_dir, "meta-validation-dataset.json")["5971"]
    test = _json(hpob_dir, "meta-test-dataset.json")["5971"]
    names = lambda p: sorted(s.name.split("-")[-1] for s in get_pair(p).sources)  # noqa: E731
    assert names(f"{PAIR},sources=train+validation") == sorted([*train, *val])
    assert names(f"{PAIR},sources=all") == sorted(
        [*train, *val, *(d for d in test if d != "10093")]
    )
    largest = sorted(train, key=lambda d: -len(train[d]["y"]))[:2]
    assert names(f"{PAIR},max_sources=2") == sorted(largest)


def test_large_sources_are_subsampled_per_seed_to_n_source():
    pair = get_pair(PAIR)
    a, b, again = (pair.source_data(seed, n_source=16) for seed in (0, 1, 0))
    for source, da, db, dagain in zip(pair.sources, a, b, again):
        assert da.X.shape == (16, pair.dim)
        rows = {tuple(x) for x in source.X.tolist()}
        assert all(tuple(x) in rows for x in da.X.tolist())  # a subset of the table
        assert torch.equal(da.X, dagain.X) and not torch.equal(da.X, db.X)
    # A source smaller than n_source is seen whole.
    whole = pair.source_data(0, n_source=10_000)
    assert [len(d.X) for d in whole] == [len(s.y) for s in pair.sources]


def test_each_search_space_is_parsed_once_per_process_and_only_when_needed(monkeypatch):
    decoded = []
    real = hpob_module._decode

    def counting(text, where):
        out = real(text, where)
        decoded.append((os.path.basename(where), tuple(sorted(out))))
        return out

    monkeypatch.setattr(hpob_module, "_decode", counting)
    for cached in (hpob_module._index, hpob_module._space, hpob_module._initializations):
        cached.cache_clear()
    _build_pair.cache_clear()
    for name in (PAIR, "hpob:space=5971,dataset=146064", "hpob:space=4796,dataset=125923"):
        get_pair(name).source_data(0)
    files = [f for f, _ in decoded]
    assert len(set(decoded)) == len(decoded), decoded  # nothing parsed twice
    # Per pair: its space in meta-test (target) and meta-train (sources); the
    # initial designs once; meta-validation never (no pair needed it).
    assert sorted(files) == sorted(
        ["meta-test-dataset.json", "meta-train-dataset.json"] * 2 + ["bo-initializations.json"]
    )


def test_the_index_matches_a_plain_parse_whatever_the_whitespace(tmp_path, monkeypatch):
    """The brace scan against a plain JSON parse, on a pretty-printed file."""
    root = write_synthetic_hpob(tmp_path / "a", points=(5, 8))
    pretty = tmp_path / "b"
    pretty.mkdir()
    for f in root.iterdir():
        (pretty / f.name).write_text(json.dumps(_json(root, f.name), indent=3))
    monkeypatch.setenv(HPOB_DIR_ENV, str(pretty))
    reference = _json(pretty, "meta-train-dataset.json")
    assert hpob_module.split_spaces("train") == list(reference)
    for space in reference:
        assert hpob_module.split_datasets("train", space) == tuple(reference[space])
        tables = hpob_module.load_space("train", space)
        assert {d: (X.tolist(), [[v] for v in y]) for d, (X, y) in tables.items()} == {
            d: (t["X"], t["y"]) for d, t in reference[space].items()
        }


def test_names_are_validated_without_parsing_a_number(monkeypatch, tmp_path):
    """A sweep's driver checks every pair (the preset names them all) from the
    files' index alone; only workers parse what their runs use."""

    def refuse(text, where):
        raise AssertionError(f"parsed {where}")

    monkeypatch.setattr(hpob_module, "_decode", refuse)
    sweep = Sweep.from_dict({"preset": "hpob-v3", "methods": ["random"], "seeds": 1})
    assert len(sweep.pairs) == 3
    write_synthetic_hpob(tmp_path, [SyntheticSpace("1", 2, (), ("3",), ("2",))], points=(6, 8))
    monkeypatch.setenv(HPOB_DIR_ENV, str(tmp_path))
    with pytest.raises(UserError, match="no data set other than 2 in sources=train"):
        canonical_pair_name("hpob:space=1,dataset=2")
    assert canonical_pair_name("hpob:space=1,dataset=2,sources=train+validation")


def test_unknown_space_or_data_set_names_the_known_ones():
    with pytest.raises(UserError, match=r"no search space 1; search spaces: 4796, 5971"):
        canonical_pair_name("hpob:space=1,dataset=10093")
    with pytest.raises(UserError, match=r"no data set 7; data sets: .*10093"):
        canonical_pair_name("hpob:space=5971,dataset=7")


def test_missing_files_name_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(HPOB_DIR_ENV)
    with pytest.raises(UserError, match=HPOB_DIR_ENV) as info:
        Sweep.from_dict(
            {"seeds": 1, "budget": 6, "n_init": 5, "pairs": [PAIR], "methods": ["random"]}
        )
    assert "\n" not in str(info.value)
    write_synthetic_hpob(tmp_path, [SyntheticSpace("1", 2, ("a",), (), ("2",))], points=(10, 12))
    (tmp_path / "bo-initializations.json").unlink()
    monkeypatch.setenv(HPOB_DIR_ENV, str(tmp_path))
    with pytest.raises(UserError, match="lacks bo-initializations.json"):
        canonical_pair_name("hpob:space=1,dataset=2")


def test_cli_run_refuses_without_the_files_exit_2_one_line(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'seeds = 1\nbudget = 6\nn_init = 5\npairs = ["hpob:space=5971,dataset=10093"]\n'
        'methods = ["random"]\n'
    )
    env = {k: v for k, v in os.environ.items() if k != HPOB_DIR_ENV}
    proc = subprocess.run(
        [sys.executable, "-m", "bo_transfer", "run", str(spec), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and HPOB_DIR_ENV in proc.stderr
    assert not (tmp_path / "out").exists()


def test_preset_is_hpobs_protocol_over_every_meta_test_task(hpob_dir):
    sweep = Sweep.from_dict({"preset": "hpob-v3", "methods": ["random"]})
    test = _json(hpob_dir, "meta-test-dataset.json")
    assert sweep.seeds == (0, 1, 2, 3, 4) and sweep.n_init == 5 and sweep.budget == 105
    assert sweep.pairs == tuple(
        canonical_pair_name(f"hpob:space={s},dataset={d}") for s in test for d in test[s]
    )
    # The spec's own keys win.
    assert Sweep.from_dict({"preset": "hpob-v3", "methods": ["random"], "budget": 30}).budget == 30
    with pytest.raises(UserError, match="preset: 'hpob-v2' is not one of hpob-v3"):
        Sweep.from_dict({"preset": "hpob-v2", "methods": ["random"]})


def test_spec_hpob_dir_sets_the_variable_for_workers(monkeypatch, hpob_dir, tmp_path):
    monkeypatch.setenv(HPOB_DIR_ENV, str(tmp_path / "elsewhere"))
    Sweep.from_dict(
        {
            "hpob_dir": str(hpob_dir),
            "seeds": 1,
            "budget": 6,
            "n_init": 5,
            "pairs": [PAIR],
            "methods": ["random"],
        }
    )
    assert os.environ[HPOB_DIR_ENV] == str(hpob_dir.resolve())


def _edited_hpob(tmp_path, monkeypatch, edit) -> None:
    """A small HPO-B folder with ``edit(files)`` applied to its parsed JSON."""
    root = write_synthetic_hpob(tmp_path, [SyntheticSpace("1", 2, ("3",), (), ("2",))], (6, 8))
    files = {f.name: _json(root, f.name) for f in root.iterdir()}
    edit(files)
    for name, content in files.items():
        (root / name).write_text(json.dumps(content))
    monkeypatch.setenv(HPOB_DIR_ENV, str(root))


def test_a_missing_named_design_is_refused_not_shifted(tmp_path, monkeypatch):
    """Issue 22: without ``test1``, seed 1 silently started from ``test2``'s
    design and seed 2 from ``test3``'s."""
    _edited_hpob(tmp_path, monkeypatch, lambda f: f[hpob_module.INIT_FILE]["1"]["2"].pop("test1"))
    sweep = Sweep.from_dict({"pairs": ["hpob:space=1,dataset=2"], "methods": ["random"]} | SMALL)
    with pytest.raises(UserError, match=r"lacks test1 for HPO-B space 1, data set 2"):
        sweep.runs()


def test_a_nan_accuracy_is_refused_before_the_sweep_writes(tmp_path, monkeypatch):
    """Issue 22: it was found only as each run started (every run failed)."""

    def nan(files):
        files["meta-test-dataset.json"]["1"]["2"]["y"][3] = [float("nan")]

    _edited_hpob(tmp_path, monkeypatch, nan)
    sweep = Sweep.from_dict({"pairs": ["hpob:space=1,dataset=2"], "methods": ["random"]} | SMALL)
    with pytest.raises(UserError, match=r"data set 2: 1 of \d+ accuracy values are not finite"):
        run_sweep(sweep, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_changed_hpob_files_change_the_runs_identity(tmp_path, monkeypatch):
    """Issue 22: the search space's bytes are part of each run's key."""
    _edited_hpob(tmp_path / "a", monkeypatch, lambda f: None)
    sweep = Sweep.from_dict({"pairs": ["hpob:space=1,dataset=2"], "methods": ["random"]} | SMALL)
    before = sweep.runs()[0]

    def change(files):
        files["meta-train-dataset.json"]["1"]["3"]["y"][0] = [0.123]

    _edited_hpob(tmp_path / "b", monkeypatch, change)
    after = sweep.runs()[0]
    assert after.data != before.data and after.key != before.key
