"""The failure paths a long sweep meets (issue 14): each gives the right exit
code, one line on stderr, and leaves on disk exactly what it should.

Exit codes: 0 success, 1 the sweep finished and some runs failed, 2 a user
error (one line), 3 an internal error (one line pointing to a log), 130 / 143
interrupted by Ctrl-C / SIGTERM (one line; finished runs stored).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
import torch

from bo_transfer import columns as C
from bo_transfer.cli import main
from bo_transfer.methods import METHODS
from bo_transfer.problems import FAMILIES
from bo_transfer.problems.families import canonical_pair_name
from bo_transfer.sweep import LocalExecutor, RunResult, RunSpec, Sweep, run_sweep
from bo_transfer.sweep.store import ResultStore

SPEC = (
    'name = "paths"\nseeds = 2\nbudget = 4\nn_init = 3\nn_source = 4\n'
    'pairs = ["forrester"]\nmethods = ["random", "cold-gp"]\n'
)
#: Long enough to be interrupted: every run of cold-gp fits a GP per step.
SLOW_SPEC = (
    'name = "slow"\nseeds = 40\nbudget = 16\nn_init = 3\nn_source = 4\n'
    'pairs = ["forrester"]\nmethods = ["cold-gp"]\n'
)


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its bytes (folders as "dir")."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A small finished sweep of SPEC (copy it before changing it)."""
    root = tmp_path_factory.mktemp("finished")
    (root / "spec.toml").write_text(SPEC)
    summary = run_sweep(Sweep.from_toml(root / "spec.toml"), root / "out", LocalExecutor(1))
    assert (summary.done, summary.failed) == (4, 0)
    return root / "out"


def _store_copy(finished: Path, dest: Path) -> Path:
    shutil.copytree(finished, dest)
    return dest


def _damage(kind: str):
    def setup(tmp: Path, finished: Path) -> None:
        store = _store_copy(finished, tmp / "store") / "results.sqlite"
        data = store.read_bytes()
        if kind == "empty":
            store.write_bytes(b"")
        elif kind == "garbage":
            store.write_bytes(b"not a database, just text\n" * 500)
        else:
            store.write_bytes(data[: len(data) // 2])

    return setup


def _sql(statement: str):
    """A copy of the finished store changed by one SQL statement (issue 22's
    damaged stores: a bad schema version, metadata that is not JSON, a
    missing table)."""

    def setup(tmp: Path, finished: Path) -> None:
        store = _store_copy(finished, tmp / "store") / "results.sqlite"
        with closing(sqlite3.connect(store)) as conn, conn:
            conn.execute(statement)

    return setup


def _write(name: str, text: str | bytes):
    def setup(tmp: Path, finished: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)

    return setup


def _spec_with(**changes: str):
    lines = dict(line.split(" = ", 1) for line in SPEC.strip().splitlines())
    lines.update(changes)
    return _write("spec.toml", "".join(f"{k} = {v}\n" for k, v in lines.items()))


def _all_failed(tmp: Path, finished: Path) -> None:
    with ResultStore(tmp / "store", create=True) as store:
        for seed in (0, 1):
            spec = RunSpec("forrester", "cold-gp", seed, 4, 3, 4)
            store.put(RunResult.lost(spec, "", RuntimeError("out of luck")), family="forrester")


def _both(*setups):
    def setup(tmp: Path, finished: Path) -> None:
        for s in setups:
            s(tmp, finished)

    return setup


def _copy(tmp: Path, finished: Path) -> None:
    _store_copy(finished, tmp / "store")


#: Issue 22: a lab table (two tasks, three rows each) and its description.
TABLE_CSV = "task,x1,y\na,0.1,1.0\na,0.5,0.2\na,0.9,0.7\nb,0.2,0.9\nb,0.6,0.3\nb,0.8,0.5\n"
TABLE_TOML = (
    'name = "lab"\ndata = "t.csv"\ntask = "task"\nobjective = "y"\nmaximize = false\n'
    "[inputs]\nx1 = {}\n"
)
TABLE_SPEC = (
    'name = "tab"\ntables = ["t.toml"]\nseeds = 2\nbudget = 3\nn_init = 2\n'
    'pairs = ["lab:task=a"]\nmethods = ["random"]\n'
)


def _table(csv: str = TABLE_CSV, toml: str = TABLE_TOML):
    return _both(_write("t.csv", csv), _write("t.toml", toml), _write("spec.toml", TABLE_SPEC))


def _export_cut_short(tmp: Path, finished: Path) -> None:
    """An export of the finished sweep cut at a row boundary, as a Ctrl-C
    during an export used to leave it: the last run stops at evaluation 2."""
    from bo_transfer.analysis.regret import iter_results

    frame = pd.concat(list(iter_results(finished)))
    frame.iloc[:-2].to_csv(tmp / "e.csv", index=False)


_good_spec = _write("spec.toml", SPEC)

#: (case, setup, argv, exit code, the stderr line contains). Every case leaves
#: the files under the test's folder exactly as it found them.
ONE_LINE_CASES = [
    *[
        (
            f"{kind} store: {cmd}",
            _both(_good_spec, _damage(kind)),
            argv,
            message,
        )
        for kind, message in (
            ("empty", "results.sqlite is empty (0 bytes), not a results store"),
            ("garbage", "is not a bo_transfer results store (not an SQLite database)"),
            ("truncated", "results.sqlite is truncated ("),
        )
        for cmd, argv in (
            ("run", ["run", "{tmp}/spec.toml", "--out", "{tmp}/store"]),
            ("report", ["report", "{tmp}/store"]),
            ("export", ["export", "{tmp}/store"]),
        )
    ],
    *[
        (
            f"{kind}: {cmd}",
            _both(_good_spec, _sql(statement)),
            argv,
            message,
        )
        for kind, statement, message, commands in (
            (
                "schema_version 'abc'",
                "UPDATE meta SET value = 'abc' WHERE key = 'schema_version'",
                "is damaged (schema version 'abc' is not a number)",
                ("run", "report", "export"),
            ),
            (
                "metadata not JSON",
                "UPDATE runs SET metadata = '{not json'",
                "'s metadata is not JSON)",
                ("report", "export"),
            ),
            (
                "no evals table",
                "DROP TABLE evals",
                "is damaged (no such table: evals)",
                ("report", "export"),
            ),
            (
                "a spec record that is not JSON",
                "UPDATE meta SET value = '[oops' WHERE key IN ('spec', 'specs')",
                "is damaged (its spec record is not JSON",
                ("run",),
            ),
        )
        for cmd, argv in (
            ("run", ["run", "{tmp}/spec.toml", "--out", "{tmp}/store"]),
            ("report", ["report", "{tmp}/store"]),
            ("export", ["export", "{tmp}/store"]),
        )
        if cmd in commands
    ],
    (
        "report of a store whose runs all failed",
        _all_failed,
        ["report", "{tmp}/store"],
        "all 2 stored runs failed (2 with: RuntimeError: out of luck)",
    ),
    (
        "export of a store whose runs all failed",
        _all_failed,
        ["export", "{tmp}/store"],
        "all 2 stored runs failed",
    ),
    (
        "seeds = 10**9",
        _spec_with(seeds="1000000000"),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "seeds: 1,000,000,000 seeds are above the limit of 100,000",
    ),
    (
        "seeds = 10**9, dry run",
        _spec_with(seeds="1000000000"),
        ["run", "{tmp}/spec.toml", "--dry-run"],
        "seeds: 1,000,000,000 seeds are above the limit of 100,000",
    ),
    (
        "budget = 10**9",
        _spec_with(budget="1000000000"),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "budget: 1000000000 is above the limit of 10,000",
    ),
    (
        "seed 2**64 - 1",
        _spec_with(seeds=f"[{2**64 - 1}]"),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        f"seeds: {2**64 - 1} is above the largest seed, 2**63 - 1",
    ),
    (
        "name is an absolute path",
        _spec_with(name='"/tmp/elsewhere"'),
        ["run", "{tmp}/spec.toml"],
        "name: must be a plain folder name",
    ),
    (
        "name climbs out of runs/",
        _spec_with(name='"../../escaped"'),
        ["run", "{tmp}/spec.toml"],
        "name: must be a plain folder name",
    ),
    (
        "name is ..",
        _spec_with(name='".."'),
        ["run", "{tmp}/spec.toml"],
        "name: must be a plain folder name",
    ),
    (
        "name with a newline",
        _spec_with(name='"two\\nlines"'),
        ["run", "{tmp}/spec.toml"],
        "name: must not contain control characters",
    ),
    (
        "name longer than a file name",
        _spec_with(name='"' + "n" * 300 + '"'),
        ["run", "{tmp}/spec.toml"],
        "name: 300 bytes long, longer than a folder name may be (255)",
    ),
    (
        "--out is a file",
        _both(_good_spec, _write("afile", "x")),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/afile"],
        "is a file; give a folder",
    ),
    (
        "--out lies under a file",
        _both(_good_spec, _write("afile", "x")),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/afile/out"],
        "lies under",
    ),
    (
        "a .lock that cannot be written",
        _both(_good_spec, _write("out/.lock/x", "")),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "cannot write to",
    ),
    (
        "export --out a folder",
        _both(_copy, _write("folder/x", "")),
        ["export", "{tmp}/store", "--out", "{tmp}/folder"],
        "is a folder; give a file name",
    ),
    (
        "report --out a file",
        _both(_copy, _write("afile", "x")),
        ["report", "{tmp}/store", "--out", "{tmp}/afile"],
        "is a file; give a folder",
    ),
    (
        "spec not UTF-8",
        _write("spec.toml", SPEC.encode("utf-16")),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "is not UTF-8 text, as TOML must be (byte 0xff at position 0)",
    ),
    (
        "n_samples = 2.5",
        _spec_with(methods='[{name = "rgpe", n_samples = 2.5}]'),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "method 'rgpe': option 'n_samples' must be an integer, got 2.5",
    ),
    (
        "beta = true",
        _spec_with(methods='[{name = "pibo", beta = true}]'),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "method 'pibo': option 'beta' must be a number, got True",
    ),
    (
        'n_samples = "ten"',
        _spec_with(methods='[{name = "rgpe", n_samples = "ten"}]'),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "method 'rgpe': option 'n_samples' must be an integer, got 'ten'",
    ),
    (
        "--dask notanaddress",
        _good_spec,
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out", "--dask", "notanaddress"],
        "--dask 'notanaddress' is not a scheduler address; use 'local' or tcp://HOST:PORT",
    ),
    (
        "show --out with an unknown image format",
        lambda tmp, finished: None,
        ["show", "forrester", "--out", "{tmp}/plot.v2"],
        "no image format '.v2'; use one of",
    ),
    (
        "show --out a folder",
        _write("folder/x", ""),
        ["show", "forrester", "--out", "{tmp}/folder"],
        "is a folder; give a file name",
    ),
    (
        "table: maximize is a string",
        _table(toml=TABLE_TOML.replace("maximize = false", 'maximize = "false"')),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "maximize must be true or false, got 'false'",
    ),
    (
        "table: log is a string",
        _table(toml=TABLE_TOML.replace("x1 = {}", 'x1 = {log = "false"}')),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "input 'x1': log must be true or false, got 'false'",
    ),
    (
        "table: an objective cell 0.5%",
        _table(csv=TABLE_CSV.replace("a,0.5,0.2", "a,0.5,0.5%")),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "t.csv:3: y='0.5%' is not a number",
    ),
    (
        "table: a column named twice",
        _table(csv=TABLE_CSV.replace("task,x1,y", "task,x1,x1").replace(",0.", ",0.1,0.", 0)),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "column 'x1' appears more than once",
    ),
    (
        "table: the objective listed as an input",
        _table(toml=TABLE_TOML + "y = {}\n"),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "the objective column 'y' cannot also be an input",
    ),
    (
        "table: a header without rows",
        _table(csv="task,x1,y\n"),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "t.csv: has a header but no rows",
    ),
    (
        "table: a row without its task",
        _table(csv=TABLE_CSV.replace("b,0.6", ",0.6")),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "t.csv:6: no task (the task column) on this row",
    ),
    (
        "table: values of +-1e308",
        _table(
            csv=TABLE_CSV.replace("a,0.5,0.2", "a,0.5,1e308").replace("b,0.6,0.3", "b,0.6,-1e308")
        ),
        ["run", "{tmp}/spec.toml", "--out", "{tmp}/out"],
        "wider than a float can hold",
    ),
    (
        "report of an export cut short",
        _export_cut_short,
        ["report", "{tmp}/e.csv"],
        "1 run(s) lack evaluations (first: forrester:a=0.5,b=10.0,c=-5.0 random seed=1, 2 of its",
    ),
]


@pytest.mark.parametrize(
    "case, setup, argv, message", ONE_LINE_CASES, ids=[c[0] for c in ONE_LINE_CASES]
)
def test_one_line_exit_2_and_nothing_written(
    tmp_path, finished, capsys, monkeypatch, case, setup, argv, message
):
    monkeypatch.chdir(tmp_path)  # a spec's default folder, runs/<name>, lands here
    setup(tmp_path, finished)
    before = _tree(tmp_path)
    code = main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("bo-transfer: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert _tree(tmp_path) == before


PLUGINS = {
    "raises": "raise RuntimeError('plugin broken on purpose')\n",
    "syntax": "def broken(:\n",
    "again": (
        "from bo_transfer.methods import Method, register_method\n"
        "@register_method('cold-gp')\n"
        "class Again(Method):\n"
        "    pass\n"
    ),
}
PLUGIN_CASES = [
    ("raises on import", "bt14_raises", "importing 'bt14_raises' failed: RuntimeError: plugin"),
    ("syntax error", "bt14_syntax", "importing 'bt14_syntax' failed: SyntaxError: "),
    (
        "registers an existing name",
        "bt14_again",
        "importing 'bt14_again' failed: ValueError: method 'cold-gp' is already registered",
    ),
    ("malformed", "bt14_raises, ", "has an empty module name"),
]


@pytest.mark.parametrize("case, value, message", PLUGIN_CASES, ids=[c[0] for c in PLUGIN_CASES])
def test_a_broken_plugin_is_one_line(tmp_path, capsys, monkeypatch, case, value, message):
    for name, source in PLUGINS.items():
        (tmp_path / f"bt14_{name}.py").write_text(source)
    (tmp_path / "spec.toml").write_text(SPEC)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BO_TRANSFER_PLUGINS", value)
    for registry in (METHODS, FAMILIES):  # load the plugins again, as a new process would
        monkeypatch.setattr(registry, "_plugins_loaded", False)
    before = _tree(tmp_path)
    code = main(["run", str(tmp_path / "spec.toml"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"BO_TRANSFER_PLUGINS{'' if case == 'malformed' else ':'}" in err and message in err
    assert err.count("BO_TRANSFER_PLUGINS") == 1  # once, not once per spec entry
    assert err.count("\n") == 1 and "Traceback" not in err
    assert _tree(tmp_path) == before
    monkeypatch.delenv("BO_TRANSFER_PLUGINS")
    assert METHODS.get("cold-gp").__name__ == "ColdGP"  # never replaced


def test_an_unreachable_dask_scheduler_writes_nothing(tmp_path, capsys, monkeypatch):
    """The corrected command into the same folder then runs (it used to be
    refused as a "different spec" by the store the failed attempt left)."""
    pytest.importorskip("distributed")
    from bo_transfer.sweep.executors.dask import DaskExecutor

    monkeypatch.setattr(DaskExecutor, "connect_timeout", "1s")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    code = main(["run", str(spec), "--out", str(out), "--dask", "tcp://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach Dask scheduler 'tcp://127.0.0.1:1'" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
    assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0


def test_show_writes_the_file_it_names(tmp_path, capsys):
    code = main(["show", "forrester", "--out", str(tmp_path / "noext")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.strip().endswith(f"wrote {tmp_path / 'noext.png'}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noext.png"]
    assert (tmp_path / "noext.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_internal_error_is_exit_3_with_a_log(tmp_path, capsys, monkeypatch):
    import tempfile

    def bug():
        raise ZeroDivisionError("a bug of ours")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(METHODS, "names", bug)
    code = main(["list", "methods"])
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("bo-transfer: internal error: ZeroDivisionError: a bug of ours; ")
    assert err.count("\n") == 1 and "Traceback" not in err
    (log,) = tmp_path.glob("bo-transfer-error-*.log")
    assert str(log) in err
    text = log.read_text()
    assert text.startswith("bo-transfer list methods\n")
    assert "Traceback" in text and "ZeroDivisionError: a bug of ours" in text


def test_exit_1_means_the_sweep_finished_with_failed_runs(tmp_path, capsys, monkeypatch):
    from bo_transfer.methods.baselines import ColdGP

    def boom(cls, methods, X, y, seeds):
        raise RuntimeError("injected")

    # cold-gp's step (alone or in a seed block) is its batched step.
    monkeypatch.setattr(ColdGP, "propose_batch", classmethod(boom))
    (tmp_path / "spec.toml").write_text(SPEC)
    argv = ["run", str(tmp_path / "spec.toml"), "--out", str(tmp_path / "o"), "--workers", "1"]
    code = main([*argv, "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("2 done, 2 failed, 0 skipped of 4 runs")


def test_a_full_disk_stops_the_sweep_with_its_summary_and_keeps_what_was_stored(
    tmp_path, capsys, monkeypatch
):
    """SQLite's own size limit (``max_page_count``) fails a write exactly as a
    full disk does (SQLITE_FULL)."""
    from bo_transfer.sweep import store as store_module

    original = store_module.ResultStore.__init__

    def small_disk(self, directory, create=False):
        original(self, directory, create)
        if create:
            pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
            self.conn.execute(f"PRAGMA max_page_count = {pages + 3}")

    (tmp_path / "spec.toml").write_text(SPEC.replace("seeds = 2", "seeds = 12"))
    argv = ["run", str(tmp_path / "spec.toml"), "--out", str(tmp_path / "o"), "--workers", "1"]
    monkeypatch.setattr(store_module.ResultStore, "__init__", small_disk)
    code = main([*argv, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "the disk is full; stopped after " in err and "of 24 runs" in err
    assert "what was stored stays" in err and err.count("\n") == 1
    stored = int(err.split("stopped after ")[1].split(" done")[0])
    assert 0 < stored < 24
    with sqlite3.connect(tmp_path / "o" / "results.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == stored
    monkeypatch.undo()
    assert main([*argv, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{24 - stored} done, 0 failed, {stored} skipped of 24 runs")


# --- wrong or lost data -----------------------------------------------------


def _report_rows(directory: Path, tmp: Path, baseline: str) -> pd.DataFrame:
    out = tmp / f"report-{directory.name}"
    assert main(["report", str(directory), "--out", str(out), "--baseline", baseline]) == 0
    return pd.read_csv(out / "table.csv").set_index(C.METHOD)


def test_append_keeps_runs_that_differ_in_more_than_the_seed_apart(tmp_path, capsys):
    """Spec B appends the same pair, methods and seeds at another budget: each
    budget is its own row, with the numbers its spec gives alone."""
    a = tmp_path / "a.toml"
    a.write_text(SPEC.replace("seeds = 2", "seeds = 3"))
    b = tmp_path / "b.toml"
    b.write_text(a.read_text().replace("budget = 4", "budget = 6").replace("paths", "b"))
    both, alone_a, alone_b = tmp_path / "both", tmp_path / "alone-a", tmp_path / "alone-b"
    for spec, out, extra in ((a, both, []), (b, both, ["--append"]), (a, alone_a, [])):
        assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--quiet", *extra]) == 0
    assert main(["run", str(b), "--out", str(alone_b), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()

    merged = _report_rows(both, tmp_path, baseline="cold-gp[budget=4]")
    assert sorted(merged.index) == [
        "cold-gp[budget=4]",
        "cold-gp[budget=6]",
        "random[budget=4]",
        "random[budget=6]",
    ]
    assert (merged["n_seeds"] == 3).all()
    for alone, budget in ((alone_a, 4), (alone_b, 6)):
        rows = _report_rows(alone, tmp_path, baseline="cold-gp")
        for method in ("random", "cold-gp"):
            got = merged.loc[f"{method}[budget={budget}]"]
            for column in ("auc_mean", "final_regret_mean", "final_regret_median"):
                assert got[column] == pytest.approx(rows.loc[method, column], rel=1e-12)

    export = tmp_path / "export.csv"
    assert main(["export", str(both), "--out", str(export)]) == 0
    df = pd.read_csv(export)
    iterations = df.groupby(C.METHOD)[C.ITERATION].max().to_dict()
    assert iterations == {
        "cold-gp[budget=4]": 4,
        "cold-gp[budget=6]": 6,
        "random[budget=4]": 4,
        "random[budget=6]": 6,
    }


def test_cell_labels_name_every_setting_that_differs():
    from bo_transfer.analysis.regret import cell_labels

    def run(label, method="random", seed=0, **changes):
        fields = {"budget": 4, "n_init": 3, "n_source": 4, "label": label, **changes}
        spec = RunSpec("forrester", method, seed, **fields)
        entry = json.dumps(asdict(spec))
        return {"run_key": spec.key, "pair": spec.pair, "method": label, "spec_entry": entry}

    cells = pd.DataFrame(
        [
            run("same", seed=0),
            run("same", seed=1),  # differs only in the seed: one row
            run("m", method="random"),
            run("m", method="cold-gp"),
            run("src", n_source=4),
            run("src", n_source=8, source_noise=0.1),
            run("opt", method="cold-gp"),
            run("opt", method="cold-gp", options={"acquisition": "ei"}),
        ]
    )
    assert cell_labels(cells).tolist() == [
        "same",
        "same",
        "m[method=random]",
        "m[method=cold-gp]",
        "src[n_source=4,source_noise=0.0]",
        "src[n_source=8,source_noise=0.1]",
        "opt[acquisition=default]",
        "opt[acquisition=ei]",
    ]


def test_a_folder_remembers_every_spec_run_into_it(tmp_path, capsys):
    a = tmp_path / "a.toml"
    a.write_text(SPEC)
    b = tmp_path / "b.toml"
    b.write_text(SPEC.replace("budget = 4", "budget = 5"))
    out = tmp_path / "out"
    run = ["--out", str(out), "--workers", "1", "--quiet"]
    assert main(["run", str(a), *run]) == 0
    assert main(["run", str(b), *run]) == 2  # a spec the folder has not seen
    assert "holds results of a different spec" in capsys.readouterr().err
    assert main(["run", str(b), *run, "--append"]) == 0
    capsys.readouterr()
    assert main(["run", str(a), *run]) == 0  # A was run here before: accepted
    assert main(["run", str(b), *run]) == 0
    assert capsys.readouterr().out.startswith("0 done, 0 failed, 4 skipped of 4 runs")


def test_the_largest_seed_is_stored_and_read_back(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("seeds = 2", f"seeds = [{2**63 - 1}]"))
    assert main(["run", str(spec), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"]) == 0
    assert main(["export", str(tmp_path / "o"), "--out", str(tmp_path / "e.csv")]) == 0
    assert set(pd.read_csv(tmp_path / "e.csv")[C.SEED]) == {2**63 - 1}


CORRUPT = {
    "value not a number": lambda e: {**e, "value": "nan"},
    "value NaN": lambda e: {**e, "value": math.nan},
    "value infinite": lambda e: {**e, "value": -math.inf},
    "no point": lambda e: {k: v for k, v in e.items() if k != "x"},
    "point outside the cube": lambda e: {**e, "x": [1.5]},
    "point of another dimension": lambda e: {**e, "x": [0.5, 0.5]},
    "value too high": lambda e: {**e, "value": e["value"] + 0.5},
    "value too low": lambda e: {**e, "value": e["value"] - 0.5},
}


@pytest.mark.parametrize("case", list(CORRUPT), ids=list(CORRUPT))
def test_a_corrupt_cached_optimum_is_certified_again(tmp_path, monkeypatch, case):
    """A run over a corrupt entry uses the certified optimum, the same as a
    fresh certification (:func:`certify_minimum`), and the entry is rewritten."""
    from bo_transfer.problems import base
    from bo_transfer.problems.pair import _build_pair
    from bo_transfer.sweep import run_one

    monkeypatch.setenv("BO_TRANSFER_CACHE", str(tmp_path))
    name = "gp:rho=0.5,dim=1,lengthscale=0.2,instance=3"
    certified = base.certify_minimum(_build_pair.__wrapped__(name).target)
    assert _build_pair.__wrapped__(name).target.optimum == certified  # certified, cached
    (path,) = (tmp_path / "optima").glob("*.json")
    good = json.loads(path.read_text())
    path.write_text(json.dumps(CORRUPT[case](good)))

    _build_pair.cache_clear()  # the run builds the pair, reading the cache
    result = run_one(RunSpec(name, "random", 0, 4, 3, 4))
    assert result.status == "done" and result.optimal_value == certified.value
    assert json.loads(path.read_text()) == good
    assert _build_pair.__wrapped__(name).target.optimum == certified


# --- processes and files ----------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bo_transfer", *args]


def _stored(db: Path) -> int:
    """Runs stored in ``db``, read without writing (and closed at once: a
    reader left open would keep the driver from leaving WAL mode)."""
    try:
        with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _group(pid: int) -> list[int]:
    """The processes of process group ``pid`` (a session started for a test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pid:
                    found.append(int(entry.name))
            except ProcessLookupError:
                pass
    return found


def _gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists() and _not_zombie(p)]
        if not alive:
            return True
        time.sleep(0.1)
    return False


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _start_slow_sweep(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen, Path]:
    spec = tmp_path / "slow.toml"
    spec.write_text(SLOW_SPEC)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _cli("run", str(spec), "--out", str(out), "--quiet", *flags),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A shell running pytest in the background ignores SIGINT for its
        # children; the sweep under test must see Ctrl-C as a terminal sends it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    return proc, out


def _wait_for_runs(proc: subprocess.Popen, db: Path, n: int, workers: int) -> list[int]:
    """Wait until ``n`` runs are stored and ``workers`` worker processes run;
    the sweep's processes then."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and (_stored(db) < n or len(_group(proc.pid)) <= workers):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    return _group(proc.pid)


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the process table in /proc"
)


@linux_only
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_workers_die_with_their_driver(tmp_path, how):
    """Only the driver gets the signal (not its process group). SIGTERM gives
    Ctrl-C's one line and exit 143; the sweep then resumes to the end."""
    proc, out = _start_slow_sweep(tmp_path, "--workers", "2")
    processes = _wait_for_runs(proc, out / "results.sqlite", 1, workers=2)
    assert len(processes) >= 3  # the driver and its two workers
    os.kill(proc.pid, getattr(signal, how))
    _, err = proc.communicate(timeout=60)
    assert _gone(processes, within=10), [p for p in processes if Path(f"/proc/{p}").exists()]
    if how == "SIGKILL":
        return
    assert proc.returncode == 143
    assert err.startswith("bo-transfer: terminated: ") and err.count("\n") == 1, err
    stored = int(err.split("terminated: ")[1].split(" done")[0])
    assert "finished runs are stored, the same command resumes" in err
    # The log was checkpointed: the store file alone holds every stored run.
    assert sorted(p.name for p in out.iterdir()) == [".lock", "results.sqlite"]
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(out / "results.sqlite", copy / "results.sqlite")
    assert _stored(copy / "results.sqlite") == stored > 0


@linux_only
def test_ctrl_c_stops_the_local_pool_with_one_line(tmp_path):
    """Ctrl-C in a terminal reaches the whole process group, workers included."""
    proc, out = _start_slow_sweep(tmp_path, "--workers", "2")
    processes = _wait_for_runs(proc, out / "results.sqlite", 1, workers=2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.startswith("bo-transfer: interrupted: ") and err.count("\n") == 1, err
    assert _gone(processes, within=10)
    stored = int(err.split("interrupted: ")[1].split(" done")[0])
    assert _stored(out / "results.sqlite") == stored


@linux_only
def test_ctrl_c_under_dask_is_one_line(tmp_path):
    pytest.importorskip("distributed")
    proc, out = _start_slow_sweep(tmp_path, "--dask", "local", "--workers", "2")
    processes = _wait_for_runs(proc, out / "results.sqlite", 1, workers=2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.startswith("bo-transfer: interrupted: ") and err.count("\n") == 1, err
    assert _gone(processes, within=15), [p for p in processes if Path(f"/proc/{p}").exists()]
    stored = int(err.split("interrupted: ")[1].split(" done")[0])
    assert _stored(out / "results.sqlite") == stored, err


def _without_write_access(command: list[str]) -> list[str]:
    """``command`` run so that file permissions bind it: as root, without the
    capabilities that override them (util-linux's ``setpriv``)."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file permissions cannot bind")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]


def _read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)


def test_report_and_export_read_a_folder_they_cannot_write(tmp_path, finished):
    store = _store_copy(finished, tmp_path / "archive")
    _read_only(store)
    before = _tree(store)
    for args in (
        ("report", str(store), "--out", str(tmp_path / "report")),
        ("export", str(store), "--out", str(tmp_path / "e.csv")),
    ):
        done = subprocess.run(_without_write_access(_cli(*args)), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "report" / "table.csv").exists()
    assert len(pd.read_csv(tmp_path / "e.csv")) == 4 * 4
    assert _tree(store) == before

    # A run into it cannot take the lock: one line, nothing changed.
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    done = subprocess.run(
        _without_write_access(_cli("run", str(spec), "--out", str(store))),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("bo-transfer: error: cannot write to ")
    assert "Permission denied" in done.stderr and done.stderr.count("\n") == 1
    assert _tree(store) == before


def test_a_read_only_copy_taken_mid_sweep_reads_in_full_or_not_at_all(tmp_path, finished):
    """A folder copied while its log held runs reads in full (with the log's
    index, ``-shm``, copied too) or is refused in one line (without it),
    never read short."""
    live = _store_copy(finished, tmp_path / "live")
    writer = sqlite3.connect(live / "results.sqlite")
    writer.execute("PRAGMA journal_mode = WAL")  # as the driver's, during a sweep
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    with writer:
        writer.execute("DELETE FROM evals WHERE iteration = 4")
    copy = tmp_path / "copy"
    shutil.copytree(live, copy)
    writer.close()
    assert (copy / "results.sqlite-wal").stat().st_size > 0
    export = _without_write_access(_cli("export", str(copy), "--out", str(tmp_path / "e.csv")))

    _read_only(copy)
    done = subprocess.run(export, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(tmp_path / "e.csv")) == 4 * 3  # the log's change is seen

    copy.chmod(0o755)
    (copy / "results.sqlite-shm").unlink()
    _read_only(copy)
    before = _tree(copy)
    done = subprocess.run(export, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "is read-only and results.sqlite-wal holds results not yet in" in done.stderr
    assert _tree(copy) == before


# Issue 22: exports.


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_interrupted_leaves_no_file(tmp_path, finished, monkeypatch, fmt):
    """Ctrl-C or SIGTERM during ``export`` used to leave the rows written so far
    under the final name, which ``report`` then read as the whole sweep."""
    from bo_transfer.analysis import regret

    real = regret.iter_results

    def interrupted(directory):
        yield next(real(directory, runs_per_chunk=1))
        raise KeyboardInterrupt

    monkeypatch.setattr(regret, "iter_results", interrupted)
    store = _store_copy(finished, tmp_path / "store")
    before = _tree(tmp_path)
    assert main(["export", str(store), "--format", fmt]) == 130
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_carries_failed_runs_and_both_reports_agree(tmp_path, finished, capsys, fmt):
    """The report of an export said ``n_failed`` 0 and dropped a cell whose
    runs all failed, while the report of the folder counted them."""
    store = _store_copy(finished, tmp_path / "store")
    with ResultStore(store, create=True) as db:
        for method, seed in (("cold-gp", 1), ("pibo", 0), ("pibo", 1)):
            spec = RunSpec(canonical_pair_name("forrester"), method, seed, 4, 3, 4)
            db.put(RunResult.lost(spec, "", RuntimeError("out of luck")), family="forrester")
    export = tmp_path / f"e.{fmt}"
    assert main(["export", str(store), "--format", fmt, "--out", str(export)]) == 0
    assert main(["report", str(store), "--out", str(tmp_path / "from-dir")]) == 0
    assert main(["report", str(export), "--out", str(tmp_path / "from-export")]) == 0
    capsys.readouterr()
    from_dir = pd.read_csv(tmp_path / "from-dir" / "table.csv")
    from_export = pd.read_csv(tmp_path / "from-export" / "table.csv")
    pd.testing.assert_frame_equal(from_dir, from_export)
    failed = from_export.set_index(C.METHOD)["n_failed"].to_dict()
    assert failed == {"cold-gp": 1, "pibo": 2, "random": 0}


def test_a_target_that_fails_on_part_of_the_cube_is_analysable(tmp_path):
    """Issue 22: a user pair returning NaN on part of the space finished its
    sweep, but ``report`` and ``export`` exited 3 (its value range was NaN,
    stored as NULL). The range is taken where the target has values."""
    from bo_transfer.analysis import load_results
    from bo_transfer.problems import register_pair
    from bo_transfer.sweep import run_one

    def target(X):
        y = (X - 0.3).pow(2).sum(-1)
        return y.masked_fill((X[:, 0] > 0.6) & (X[:, 1] < 0.5), math.nan)

    name = register_pair("nan-corner", target, [lambda X: (X - 0.4).pow(2).sum(-1)], dim=2)
    try:
        result = run_one(RunSpec(name, "random", 0, 8, 3, 4))
        assert result.status == "done" and math.isfinite(result.value_range)
        with ResultStore(tmp_path, create=True) as store:
            store.put(result, family=name)
        df = load_results(tmp_path)
    finally:
        FAMILIES._items.pop("nan-corner")
    assert len(df) == 8 and df[C.NORMALIZED_REGRET].notna().all()


def test_a_table_smaller_than_the_budget_pads_in_a_seed_block_as_alone(tmp_path):
    """Issue 22: a target of 5 rows at budget 8 failed every GP run of a seed
    block ("no candidate left") while the same runs alone finished."""
    from bo_transfer.problems import register_table_pairs
    from bo_transfer.sweep import run_one
    from bo_transfer.sweep.block import run_block

    (tmp_path / "t.csv").write_text(
        "task,x1,y\n"
        + "".join(f"a,{i / 5},{(i - 2) ** 2}\n" for i in range(5))
        + "".join(f"b,{i / 7},{(i - 3) ** 2}\n" for i in range(7))
    )
    name = register_table_pairs("lab-small", tmp_path / "t.csv", "task", "y", ["x1"])[0]
    specs = [RunSpec(name, "cold-gp", seed, 8, 2, 4) for seed in (0, 1)]
    block = run_block(specs)
    alone = [run_one(s) for s in specs]
    for b, a in zip(block, alone):
        assert (b.status, a.status) == ("done", "done"), (b.error, a.error)
        assert len(b.X) == 8 and b.metadata["table_padding"] == 3


@pytest.mark.parametrize("extra", [1, -1])
def test_a_batched_step_of_the_wrong_shape_fails_its_runs_naming_the_method(extra):
    """Issue 22: S+1 rows were accepted; S-1 rows failed only the last seed
    with a shape message that did not point at the batched step."""
    from bo_transfer.methods.base import BatchedMethod, register_method
    from bo_transfer.sweep.block import run_block

    @register_method("test-misshapen", summary="test", citation="none")
    class Misshapen(BatchedMethod):
        @classmethod
        def propose_batch(cls, methods, X, y, seeds):
            return torch.rand(X.shape[0] + extra, X.shape[-1], dtype=X.dtype)

    try:
        specs = [
            RunSpec(canonical_pair_name("forrester"), "test-misshapen", s, 5, 3, 4) for s in (0, 1)
        ]
        results = run_block(specs)
    finally:
        METHODS._items.pop("test-misshapen", None)
    for r in results:
        assert r.status == "failed"
        assert (
            f"method 'test-misshapen': propose_batch returned a {2 + extra} x 1 tensor" in r.error
        )


#: A store the release before seed blocks computed each run's own numbers
#: wrote (commit ee3e307: ``run`` of OLD_SPEC, cold-gp in a block of 2 seeds).
OLD_STORE = Path(__file__).parent / "data" / "store-ee3e307.sqlite"
OLD_SPEC = (
    'name = "old"\nseeds = 2\nbudget = 4\nn_init = 3\nn_source = 4\nbatch_seeds = 2\n'
    'pairs = ["forrester:a=0.5,b=10.0,c=5.0"]\nmethods = ["random", "cold-gp"]\n'
)


def test_a_store_of_the_previous_release_is_read_and_resumed_without_duplicates(tmp_path, capsys):
    """Issue 22: ``report`` and ``export`` exited 3 on it (``seed_batch``),
    ``run`` of the same spec called it a different spec, and ``--append``
    redid cold-gp as duplicates."""
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(OLD_STORE, out / "results.sqlite")
    spec = tmp_path / "spec.toml"
    spec.write_text(OLD_SPEC)
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    assert main(["export", str(out), "--out", str(tmp_path / "e.csv")]) == 0
    capsys.readouterr()
    assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("0 done, 0 failed, 4 skipped of 4 runs")
    spec.write_text(OLD_SPEC.replace("seeds = 2", "seeds = 3"))
    run = ["run", str(spec), "--out", str(out), "--workers", "1", "--quiet", "--append"]
    assert main(run) == 0
    assert capsys.readouterr().out.startswith("2 done, 0 failed, 4 skipped of 6 runs")
    with ResultStore(out) as store:
        runs = store.runs_frame()
    assert len(runs) == 6 and not runs.duplicated([C.PAIR, C.METHOD, C.SEED]).any()
    assert main(["report", str(out), "--out", str(tmp_path / "report2")]) == 0


def test_a_report_cut_short_by_a_full_disk_leaves_nothing(tmp_path, finished, capsys, monkeypatch):
    """Issue 22: ``report`` on a nearly full disk exited 3 and left a partial
    report folder."""
    import errno

    from bo_transfer.analysis.report import Report

    real = Report.write

    def full_disk(self, out, dpi=130):
        real(self, out, dpi)  # every file is written, then the disk fills
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Report, "write", full_disk)
    store = _store_copy(finished, tmp_path / "store")
    before = _tree(tmp_path)
    assert main(["report", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err, err
    assert _tree(tmp_path) == before


def test_export_to_a_default_path_it_cannot_write_is_one_line(tmp_path, finished):
    """Issue 22: ``export`` of a read-only folder to its default path exited 3."""
    store = _store_copy(finished, tmp_path / "archive")
    _read_only(store)
    before = _tree(tmp_path)
    done = subprocess.run(
        _without_write_access(_cli("export", str(store))), capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.startswith("bo-transfer: error: cannot write ") and done.stderr.count("\n") == 1
    ), done.stderr
    assert _tree(tmp_path) == before


#: Issue 22: plugin methods that end their process in the ways a run must survive.
ENDING_PLUGIN = """
import os, signal, sys
from bo_transfer.methods.base import Method, register_method

@register_method("bt22-exit", summary="calls sys.exit(0)", citation="none")
class Exit(Method):
    def propose(self, X, y, seed):
        sys.exit(0)

@register_method("bt22-interrupt", summary="raises KeyboardInterrupt", citation="none")
class Interrupt(Method):
    def propose(self, X, y, seed):
        raise KeyboardInterrupt

@register_method("bt22-kill", summary="killed, as by the out-of-memory killer", citation="none")
class Kill(Method):
    def propose(self, X, y, seed):
        os.kill(os.getpid(), signal.SIGKILL)
"""


@linux_only
def test_a_plugin_that_exits_interrupts_or_is_killed_fails_its_run(tmp_path):
    """Issue 22: ``sys.exit(0)`` in a method made the sweep exit 0 with nothing
    stored, a ``KeyboardInterrupt`` gave 130, and a sweep of one task (run in
    the driver) killed by the out-of-memory killer exited 137 without a line."""
    (tmp_path / "bt22_ending.py").write_text(ENDING_PLUGIN)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "BO_TRANSFER_PLUGINS": "bt22_ending",
    }
    spec = tmp_path / "spec.toml"
    for methods, summary, error in (
        ('["random", "bt22-exit", "bt22-interrupt"]', "1 done, 2 failed", "SystemExit"),
        ('["bt22-kill"]', "0 done, 1 failed", "worker lost twice"),
    ):
        spec.write_text(
            SPEC.replace("seeds = 2", "seeds = 1").replace(
                'methods = ["random", "cold-gp"]', f"methods = {methods}"
            )
        )
        out = tmp_path / f"out-{len(methods)}"
        done = subprocess.run(
            _cli("run", str(spec), "--out", str(out), "--workers", "2", "--quiet"),
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
        assert done.stdout.startswith(summary) and error in done.stdout, done.stdout
        with ResultStore(out) as store:
            assert set(store.statuses().values()) <= {"done", "failed"}


#: A SIGTERM at the very start of ``main`` (before any command runs), and one
#: that arrives while ``main`` prints its line after Ctrl-C.
EARLY_TERM = """
import os, signal, sys
import bo_transfer.cli as cli

def early():
    os.kill(os.getpid(), signal.SIGTERM)
    raise AssertionError("SIGTERM was not answered at once")

cli.build_parser = early
sys.exit(cli.main())
"""
TERM_AFTER_CTRL_C = """
import io, os, signal, sys
import bo_transfer.cli as cli

class TermOnWrite(io.StringIO):
    def write(self, text):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives as the line is printed
        return sys.__stderr__.write(text)

def ctrl_c():
    sys.stderr = TermOnWrite()
    raise KeyboardInterrupt

cli.build_parser = ctrl_c
sys.exit(cli.main())
"""


@linux_only
@pytest.mark.parametrize(
    "script, code, line",
    [
        (EARLY_TERM, 143, "bo-transfer: terminated\n"),
        (TERM_AFTER_CTRL_C, 130, "bo-transfer: interrupted\n"),
    ],
    ids=["SIGTERM before any command", "SIGTERM while Ctrl-C's line is printed"],
)
def test_the_exit_code_names_the_signal_the_line_names(script, code, line):
    """Issue 22: a SIGTERM in the first ~1.5 s (before the handler was set)
    exited 143 with no line; Ctrl-C then SIGTERM printed "interrupted" and
    exited 143."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (code, line)


COSMETIC_SPECS = [
    ("pairs = []", SPEC.replace('["forrester"]', "[]"), "pairs: must be", "pairs:", 1),
    (
        "methods = []",
        SPEC.replace('["random", "cold-gp"]', "[]"),
        "methods: must be",
        "methods:",
        1,
    ),
    (
        "[[pairs]] famly =",
        SPEC.replace('pairs = ["forrester"]\n', "") + '[[pairs]]\nfamly = "forrester"\n',
        "pairs[0]: a pair table needs family = \"<name>\"; did you mean 'family' for 'famly'?",
        "pairs[0]:",
        1,
    ),
    (
        "a table error and its pair",
        'tables = ["missing.toml"]\n' + SPEC.replace('"forrester"', '"lab:task=a"'),
        "tables[0]: table description 'missing.toml' not found",
        "unknown pair family",
        0,
    ),
]


@pytest.mark.parametrize(
    "case, text, message, repeated, most", COSMETIC_SPECS, ids=[c[0] for c in COSMETIC_SPECS]
)
def test_a_spec_problem_is_said_once_with_its_suggestion(
    tmp_path, capsys, monkeypatch, case, text, message, repeated, most
):
    """Issue 22: empty pairs or methods were reported twice in one line, a
    misspelt ``family`` gave ``pairs[0]: pairs[0]:`` and no suggestion, and a
    table that failed to load was followed by "unknown pair family"."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.toml").write_text(text)
    assert main(["run", "spec.toml", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count(repeated) <= most and err.count("\n") == 1, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is available")
def test_a_spec_device_is_named_as_the_specs_not_the_flag(tmp_path, capsys):
    (tmp_path / "spec.toml").write_text(SPEC + 'device = "cuda"\n')
    assert main(["run", str(tmp_path / "spec.toml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "spec.toml: device = cuda: no CUDA device" in err and "--device" not in err, err


def test_a_below_optimum_warning_is_one_line(tmp_path, finished, capsys, monkeypatch):
    """Issue 22: ``BelowOptimumWarning`` was printed as a raw two-line warning."""
    import warnings

    from bo_transfer.analysis import inputs
    from bo_transfer.problems.base import BelowOptimumWarning

    real = inputs.load_inputs

    def warning(*args, **kwargs):
        warnings.warn(
            "1 pair instance(s) evaluated below the optimum", BelowOptimumWarning, stacklevel=2
        )
        return real(*args, **kwargs)

    monkeypatch.setattr(inputs, "load_inputs", warning)
    store = _store_copy(finished, tmp_path / "store")
    assert main(["report", str(store)]) == 0
    err = capsys.readouterr().err
    assert "bo-transfer: warning: 1 pair instance(s) evaluated below the optimum\n" in err, err
    assert "BelowOptimumWarning" not in err and "warnings.warn" not in err, err
