"""Your own tables of past evaluations (CSV or parquet) as pair families."""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest
import torch

from bo_transfer.errors import UserError
from bo_transfer.problems import get_pair, register_table_pairs
from bo_transfer.problems.table import TABLES_ENV, load_table_description
from bo_transfer.sweep import LocalExecutor, Sweep, run_sweep

ROWS = [
    # task, lr, depth, acc
    ("cifar", 1e-4, 2, 0.61),
    ("cifar", 1e-3, 6, 0.72),
    ("cifar", 1e-2, 12, 0.55),
    ("cifar", 3e-3, 4, 0.80),
    ("svhn", 1e-4, 3, 0.70),
    ("svhn", 1e-2, 8, float("nan")),  # a failed run
    ("svhn", 5e-3, 10, 0.90),
    ("mnist", 2e-3, 5, 0.97),
    ("mnist", 8e-3, 9, 0.95),
]
INPUTS = {"lr": {"low": 1e-5, "high": 0.1, "log": True}, "depth": {}}


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "runs.csv"
    pd.DataFrame(ROWS, columns=["task", "lr", "depth", "acc"]).to_csv(path, index=False)
    return path


def _expected(task: str) -> tuple[list[list[float]], list[float]]:
    """The unit-cube table of ``task`` written out from the definition: log10
    for lr within its given bounds, depth within the file's min and max."""
    rows = [r for r in ROWS if r[0] == task and not math.isnan(r[3])]
    depths = [r[2] for r in ROWS if not math.isnan(r[3])]
    lo, hi = min(depths), max(depths)
    X = [[(math.log10(lr) + 5) / 4, (d - lo) / (hi - lo)] for _, lr, d, _ in rows]
    return X, [-acc for *_, acc in rows]


def test_csv_tasks_become_pairs_mapped_to_the_unit_cube(csv):
    names = register_table_pairs("lab-a", csv, "task", "acc", INPUTS, maximize=True)
    assert names == [
        "lab-a:task=cifar,max_sources=0",
        "lab-a:task=svhn,max_sources=0",
        "lab-a:task=mnist,max_sources=0",
    ]
    pair = get_pair("lab-a:task=svhn")
    X, y = _expected("svhn")
    torch.testing.assert_close(pair.target.X, torch.tensor(X, dtype=torch.float64))
    assert pair.target.y.tolist() == pytest.approx(y)  # the failed run is dropped
    assert pair.target.optimal_value == pytest.approx(-0.90)
    assert [s.name for s in pair.sources] == ["lab-a-cifar", "lab-a-mnist"]
    for source, task in zip(pair.sources, ("cifar", "mnist")):
        Xs, ys = _expected(task)
        torch.testing.assert_close(source.X, torch.tensor(Xs, dtype=torch.float64))
        assert source.y.tolist() == pytest.approx(ys) and source.subsample
    # The largest other task only.
    assert [s.name for s in get_pair("lab-a:task=svhn,max_sources=1").sources] == ["lab-a-cifar"]


def test_parquet_gives_the_same_pairs(csv, tmp_path):
    parquet = tmp_path / "runs.parquet"
    pd.read_csv(csv).to_parquet(parquet)
    register_table_pairs("lab-csv", csv, "task", "acc", INPUTS, maximize=True)
    register_table_pairs("lab-pq", parquet, "task", "acc", INPUTS, maximize=True)
    a, b = get_pair("lab-csv:task=cifar"), get_pair("lab-pq:task=cifar")
    assert torch.equal(a.target.X, b.target.X) and torch.equal(a.target.y, b.target.y)


def test_registering_again_is_a_no_op_but_another_table_under_the_name_is_an_error(csv, tmp_path):
    first = register_table_pairs("lab-b", csv, "task", "acc", INPUTS, maximize=True)
    assert register_table_pairs("lab-b", csv, "task", "acc", INPUTS, maximize=True) == first
    with pytest.raises(UserError, match="already registered for another table"):
        register_table_pairs("lab-b", csv, "task", "acc", INPUTS, maximize=False)
    with pytest.raises(UserError, match="must be new"):
        register_table_pairs("gp", csv, "task", "acc", INPUTS)


@pytest.mark.parametrize(
    "change, inputs, message",
    [
        ({}, {"lr": {}, "depht": {}}, r"no column 'depht'; did you mean 'depth'\?"),
        ({"lr": [0.0, 1e-3]}, INPUTS, r"runs.csv:2: lr=0.0 is not positive"),
        ({}, {"lr": {"low": 1e-3, "high": 0.1}, "depth": {}}, r"runs.csv:2: lr is outside"),
        ({"task": ["a,b", "x"]}, INPUTS, r"task 'a,b' must be"),
        ({"task": ["solo", "x"]}, INPUTS, r"task 'solo' has fewer than 2"),
        ({"depth": ["deep", 1]}, INPUTS, r"runs.csv:2: depth is not a finite number"),
        ({}, {"lr": {"lo": 1}}, r"input 'lr' takes low, high and log"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path, change, inputs, message):
    frame = pd.DataFrame(ROWS, columns=["task", "lr", "depth", "acc"])
    for col, values in change.items():
        frame[col] = frame[col].astype(object)
        frame.loc[: len(values) - 1, col] = values
    path = tmp_path / "runs.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(UserError, match=message) as info:
        register_table_pairs(f"bad-{abs(hash(message))}", path, "task", "acc", inputs)
    assert "\n" not in str(info.value)


def _description(tmp_path, csv, name="lab-d", **extra):
    lines = [
        f'name = "{name}"',
        f'data = "{csv.name}"',
        'task = "task"',
        'objective = "acc"',
        "maximize = true",
        *(f"{k} = {v}" for k, v in extra.items()),
        "[inputs]",
        "lr = {low = 1e-5, high = 0.1, log = true}",
        "depth = {}",
    ]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_description_file_registers_the_same_table(tmp_path, csv):
    names = load_table_description(_description(tmp_path, csv))
    assert names[0] == "lab-d:task=cifar,max_sources=0"
    X, _ = _expected("cifar")
    torch.testing.assert_close(get_pair(names[0]).target.X, torch.tensor(X, dtype=torch.float64))
    with pytest.raises(UserError, match=r"unknown key 'objectve'; did you mean 'objective'\?"):
        load_table_description(_description(tmp_path, csv, name="lab-e", objectve='"x"'))


def test_spec_tables_and_hpob_dir_reach_the_sweeps_worker_processes(
    tmp_path, csv, hpob_dir, monkeypatch
):
    """Spawned workers know the spec's table family and HPO-B folder only
    through the environment the spec sets."""
    monkeypatch.delenv(TABLES_ENV, raising=False)
    monkeypatch.setenv("BO_TRANSFER_HPOB_DIR", "/nonexistent")
    description = _description(tmp_path, csv, name="lab-w")
    sweep = Sweep.from_dict(
        {
            "tables": [str(description)],
            "hpob_dir": str(hpob_dir),
            "seeds": 1,
            "budget": 4,
            "n_init": 2,
            "pairs": ["lab-w:task=cifar", "hpob:space=4796,dataset=125923"],
            "methods": ["random"],
        }
    )
    assert os.environ[TABLES_ENV] == str(description.resolve())
    summary = run_sweep(sweep, tmp_path / "out", executor=LocalExecutor(2))
    assert summary.failed == 0, summary.lines()


def test_spec_with_a_bad_table_description_names_it(tmp_path, monkeypatch):
    monkeypatch.delenv(TABLES_ENV, raising=False)
    with pytest.raises(UserError, match=r"tables\[0\]: table description .* not found"):
        Sweep.from_dict(
            {
                "tables": [str(tmp_path / "nope.toml")],
                "seeds": 1,
                "budget": 4,
                "n_init": 2,
                "pairs": ["forrester"],
                "methods": ["random"],
            }
        )
