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
        ({"depth": ["deep", 1]}, INPUTS, r"runs.csv:2: depth='deep' is not a number"),
        ({}, {"lr": {"lo": 1}}, r"input 'lr' takes low, high and log"),
        # Issue 22: values that used to be dropped, misread or crash.
        ({"acc": [0.5, "0.5%"]}, INPUTS, r"runs.csv:3: acc='0.5%' is not a number"),
        ({"acc": ["abc"]}, INPUTS, r"runs.csv:2: acc='abc' is not a number"),
        ({"acc": [0.5, 0.6, "1,2"]}, INPUTS, r"runs.csv:4: acc='1,2' is not a number"),
        ({"task": [None]}, INPUTS, r"runs.csv:2: no task \(the task column\)"),
        ({"acc": [1e308, -1e308]}, INPUTS, r"acc spans \[-1e\+308, 1e\+308\], wider than"),
        ({"depth": [1e308, -1e308]}, INPUTS, r"input 'depth' spans .* wider than"),
        ({}, {"lr": {"log": "false"}, "depth": {}}, r"input 'lr': log must be true or false"),
        ({}, {"acc": {}, "depth": {}}, r"the objective column 'acc' cannot also be an input"),
        ({}, {"task": {}, "depth": {}}, r"the task column 'task' cannot also be an input"),
        ({}, ["depth", "depth"], r"input 'depth' is listed twice"),
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


def test_a_string_for_maximize_is_refused_not_read_as_true(csv):
    """``maximize = "false"`` in a description (a string) used to negate the
    objective: ``bool("false")`` is True."""
    with pytest.raises(UserError, match=r"maximize must be true or false, got 'false'"):
        register_table_pairs("lab-str", csv, "task", "acc", INPUTS, maximize="false")


def test_a_column_named_twice_or_a_header_without_rows_is_refused(tmp_path):
    twice = tmp_path / "twice.csv"
    twice.write_text("task,x1,x1,y\na,0.1,0.9,1\na,0.2,0.8,2\nb,0.3,0.7,3\nb,0.4,0.6,4\n")
    with pytest.raises(UserError, match=r"column 'x1' appears more than once"):
        register_table_pairs("lab-twice", twice, "task", "y", ["x1"])
    header = tmp_path / "header.csv"
    header.write_text("task,x1,y\n")
    with pytest.raises(UserError, match=r"header.csv: has a header but no rows"):
        register_table_pairs("lab-header", header, "task", "y", ["x1"])


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


def test_changed_table_data_is_a_new_identity_and_never_mixes_into_a_store(
    tmp_path, csv, monkeypatch
):
    """Issue 22: after the file changed, ``run --append`` with more seeds
    pooled runs on both versions in one report row, and the same command
    skipped every run as done. The data's hash is in each run's identity and
    recorded; the store refuses the other version in one line."""
    from bo_transfer.problems import FAMILIES
    from bo_transfer.problems import table as table_module
    from bo_transfer.problems.pair import _build_pair
    from bo_transfer.sweep.store import ResultStore

    monkeypatch.delenv(TABLES_ENV, raising=False)
    description = _description(tmp_path, csv, name="lab-v")

    def sweep(seeds: int) -> Sweep:
        spec = {"tables": [str(description)], "seeds": seeds, "budget": 3, "n_init": 2}
        return Sweep.from_dict({**spec, "pairs": ["lab-v:task=cifar"], "methods": ["random"]})

    first = sweep(1)
    assert run_sweep(first, tmp_path / "out", LocalExecutor(1)).done == 1
    data, key = first.runs()[0].data, first.runs()[0].key
    with ResultStore(tmp_path / "out") as store:
        assert store.pair_data() == {"lab-v:task=cifar,max_sources=0": {data}}
    # The same data: done runs are skipped, more seeds are added.
    again = run_sweep(sweep(2), tmp_path / "out", LocalExecutor(1), append=True)
    assert (again.skipped, again.done) == (1, 1)

    frame = pd.read_csv(csv)
    frame.loc[0, "acc"] = 0.99
    frame.to_csv(csv, index=False)
    FAMILIES._items.pop("lab-v")  # a new process, as the next command would be
    table_module._REGISTERED.pop("lab-v")
    _build_pair.cache_clear()
    changed = sweep(3)
    assert changed.runs()[0].data != data and changed.runs()[0].key != key
    with pytest.raises(UserError, match=r"holds runs of lab-v:task=cifar,max_sources=0 on other"):
        run_sweep(changed, tmp_path / "out", LocalExecutor(1), append=True)
    with ResultStore(tmp_path / "out") as store:
        assert len(store.statuses()) == 2
