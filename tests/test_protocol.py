"""Protocol fingerprints, ``report`` over several inputs, ``run --like``, plugins
found in the working directory: adding a method to a committed study."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from bo_transfer.analysis import load_results
from bo_transfer.analysis.protocols import PROTOCOL, parse, uses_protocol_design
from bo_transfer.cli import main
from bo_transfer.methods import make_method
from bo_transfer.sweep import LocalExecutor, Sweep, run_sweep
from bo_transfer.sweep.runner import RunSpec, protocol_of, run_one

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "results" / "correlation" / "results.parquet"
#: One cell family of the committed correlation study: 2 seeds, every method.
PAIR = "gp:rho=0.5,dim=2,lengthscale=0.2,instance=seed"
SEEDS = [0, 1]
#: The study's protocol (benchmarks/correlation.toml).
PROTOCOL_SETTINGS = {"budget": 30, "n_init": 5, "n_source": 32}


@pytest.fixture(scope="module")
def study_slice(tmp_path_factory) -> Path:
    """The committed export's runs of PAIR at SEEDS, as an export file
    written before fingerprints existed (no ``protocol`` column)."""
    df = pd.read_parquet(STUDY)
    df = df[(df["pair"] == PAIR) & df["seed"].isin(SEEDS)]
    assert PROTOCOL not in df
    path = tmp_path_factory.mktemp("study") / "results.parquet"
    df.to_parquet(path, index=False)
    return path


def _new_runs(out: Path, label: str = "sobol-again", **settings) -> Path:
    """A cheap method (random search under a label of its own) at the study's
    protocol, overridden by ``settings``."""
    spec = {
        "name": "new",
        "seeds": SEEDS,
        "pairs": [PAIR],
        "methods": [{"name": "random", "label": label}],
        **PROTOCOL_SETTINGS,
        **settings,
    }
    run_sweep(Sweep.from_dict(spec), out, executor=LocalExecutor(1))
    return out


@pytest.fixture(scope="module")
def new_runs(tmp_path_factory) -> Path:
    return _new_runs(tmp_path_factory.mktemp("new"))


def _report(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _runs(df: pd.DataFrame) -> pd.DataFrame:
    runs = df.drop_duplicates("run_key").copy()
    runs["fp"] = runs[PROTOCOL].map(parse)
    return runs


def test_a_run_records_its_protocol_and_methods_of_a_seed_share_it(tmp_path):
    spec = {
        "name": "fp",
        "seeds": 2,
        "budget": 4,
        "n_init": 3,
        "n_source": 8,
        "pairs": ["forrester"],
        "methods": ["random", "init-transfer"],
    }
    run_sweep(Sweep.from_dict(spec), tmp_path, executor=LocalExecutor(1))
    runs = _runs(load_results(tmp_path))
    for _, group in runs.groupby("seed"):
        fps = list(group["fp"])
        # init-transfer evaluates its own design, yet records the protocol's.
        assert all(fp["hash"] == fps[0]["hash"] for fp in fps)
        assert fps[0]["n_source"] == 8 and fps[0]["budget"] == 4
        assert fps[0]["problems_version"] == "1" and fps[0]["source_hash"]
    assert runs.groupby("seed")["fp"].first().map(lambda f: f["init_hash"]).nunique() == 2
    # The export carries it; a report of the export reads it back unchanged.
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "e.csv")]) == 0
    exported = _runs(load_results(tmp_path / "e.csv"))
    assert list(exported["fp"]) == list(runs["fp"])
    # protocol_of (what ``show`` prints) computes the same without running.
    fp = protocol_of(RunSpec("forrester", "random", 1, 4, 3, 8))
    assert fp["init_hash"] == runs[runs["seed"] == 1]["fp"].iloc[0]["init_hash"]


def test_a_committed_export_gets_its_protocol_derived_and_it_matches_new_runs(
    study_slice, new_runs
):
    old = _runs(load_results(study_slice))
    fresh = _runs(load_results(new_runs))
    # The run keys reveal the source settings the export does not show.
    assert {(f["n_source"], f["source_design"], f["source_noise"]) for f in old["fp"]} == {
        (32, "sobol", 0.0)
    }
    for seed in SEEDS:
        mine = fresh[fresh["seed"] == seed]["fp"].iloc[0]
        for _, run in old[old["seed"] == seed].iterrows():
            theirs = run["fp"]
            for field in ("instance", "optimal_value", "value_range", "budget", "n_source"):
                assert theirs[field] == mine[field], (field, run["method"])
            # Read from the committed runs' own first points where the method
            # kept the protocol's design: the same bits as today's design.
            if uses_protocol_design(run["method_name"]):
                assert theirs["init_hash"] == mine["init_hash"], run["method"]
            else:  # init-transfer, pibo, bounding-box: unknown, hence not compared
                assert theirs["init_hash"] is None


def test_merged_report_keeps_the_committed_verdicts_and_adds_the_new_method(
    capsys, tmp_path, study_slice, new_runs
):
    # Per-method families: a new method's comparisons leave the others' families
    # (and so their Holm thresholds) as they were.
    family = ("--family", "method")
    code, _, _ = _report(capsys, str(study_slice), "--out", str(tmp_path / "alone"), *family)
    assert code == 0
    code, _, err = _report(
        capsys, str(study_slice), str(new_runs), "--out", str(tmp_path / "merged"), *family
    )
    assert code == 0, err
    alone = pd.read_csv(tmp_path / "alone" / "table.csv").set_index(["pair", "method"])
    merged = pd.read_csv(tmp_path / "merged" / "table.csv").set_index(["pair", "method"])
    assert "sobol-again" in merged.index.get_level_values("method")
    committed = merged.loc[alone.index]
    assert list(committed["verdict"]) == list(alone["verdict"])
    for column in ("final_regret_mean", "auc_mean", "n_seeds"):
        assert list(committed[column]) == pytest.approx(list(alone[column]), rel=1e-12)


@pytest.mark.parametrize(
    "settings, field",
    [({"budget": 20}, "budget"), ({"n_source": 16}, "n_source")],
)
def test_a_merge_under_another_protocol_is_refused_naming_the_field(
    capsys, tmp_path, study_slice, settings, field
):
    other = _new_runs(tmp_path / "other", **settings)
    code, out, err = _report(capsys, str(study_slice), str(other), "--out", str(tmp_path / "r"))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert f"{field} differs" in err
    assert not (tmp_path / "r").exists()


def test_a_merge_with_another_instance_is_refused(capsys, tmp_path, study_slice, new_runs):
    assert main(["export", str(new_runs), "--out", str(tmp_path / "new.csv")]) == 0
    df = pd.read_csv(tmp_path / "new.csv")

    def other_instance(text: str) -> str:
        fp = json.loads(text)
        fp["instance"] = fp["instance"].replace("instance=", "instance=1")
        return json.dumps(fp)

    df[PROTOCOL] = df[PROTOCOL].map(other_instance)
    df.to_csv(tmp_path / "tampered.csv", index=False)
    capsys.readouterr()
    code, _, err = _report(capsys, str(study_slice), str(tmp_path / "tampered.csv"))
    assert code == 2 and "instance differs" in err and len(err.strip().splitlines()) == 1


def test_one_label_in_two_inputs_needs_prefer(capsys, tmp_path, study_slice):
    again = _new_runs(tmp_path / "again", label="random")
    code, _, err = _report(capsys, str(study_slice), str(again), "--out", str(tmp_path / "r"))
    assert code == 2 and "'random' is in" in err and "--prefer" in err
    code, _, err = _report(
        capsys, str(study_slice), str(again), "--prefer", str(again), "--out", str(tmp_path / "r")
    )
    assert code == 0, err
    table = pd.read_csv(tmp_path / "r" / "table.csv")
    assert (table["method"] == "random").sum() == 1


def test_run_like_runs_exactly_the_studys_cells_for_the_new_method(capsys, study_slice, tmp_path):
    code = main(
        ["run", "--like", str(study_slice), "--methods", "random", "--out", str(tmp_path / "o")]
        + ["--dry-run"]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    lines = out.splitlines()
    assert lines[-1] == f"{len(SEEDS)} runs"
    keys = {line.split()[0] for line in lines[:-1]}
    # The same run keys as the study's own runs of that method: the same protocol.
    study = pd.read_parquet(study_slice)
    assert keys == set(study.loc[study["method"] == "random", "run_key"])


def test_run_like_refuses_a_study_that_is_not_there(capsys, tmp_path):
    code = main(["run", "--like", str(tmp_path), "--methods", "random", "--out", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2 and "results.sqlite not found" in err


def test_ucb_is_an_option_of_gp_methods_and_logei_stays_the_default():
    assert make_method("cold-gp").config() == {"acquisition": "logei", "beta": 2.0}
    assert make_method("prior-mean", {"acquisition": "ucb", "beta": 0.5}).config()["beta"] == 0.5
    spec = RunSpec("forrester", "cold-gp", 0, 6, 3, 8, {"acquisition": "ucb", "beta": 0.1})
    ucb = run_one(spec)
    logei = run_one(RunSpec("forrester", "cold-gp", 0, 6, 3, 8))
    assert ucb.status == logei.status == "done"
    assert ucb.X[:3] == logei.X[:3] and ucb.X[3:] != logei.X[3:]
    with pytest.raises(Exception, match="one of logei, ei, ucb"):
        make_method("guarded", {"acquisition": "pi"})


PLUGIN = '''
"""A plugin next to the user: random search under another name."""
from bo_transfer.methods import register_method
from bo_transfer.methods.baselines import RandomSearch


@register_method("cwd-random", summary="random search from a module in the working directory")
class CwdRandom(RandomSearch):
    pass
'''


def test_a_plugin_in_the_working_directory_loads_without_pythonpath(tmp_path):
    (tmp_path / "mymodule.py").write_text(PLUGIN)
    (tmp_path / "spec.toml").write_text(
        textwrap.dedent(
            """
            name = "cwd"
            seeds = 2
            budget = 4
            n_init = 2
            pairs = ["forrester"]
            methods = ["cwd-random"]
            """
        )
    )
    # PYTHONPATH only to the package under test (as if installed), not to ".".
    env = dict(os.environ, BO_TRANSFER_PLUGINS="mymodule", PYTHONPATH=str(ROOT))
    # The console script: unlike ``python -m`` or ``python -c``, it does not
    # put the working directory on sys.path.
    cli = [str(Path(sys.executable).with_name("bo-transfer"))]
    listed = subprocess.run(
        [*cli, "list", "methods", "--format", "csv"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr
    assert "cwd-random" in listed.stdout
    # Spawned workers (two, so a process pool) find it too.
    run = subprocess.run(
        [*cli, "run", "spec.toml", "--workers", "2", "--out", "out", "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 done, 0 failed" in run.stdout


def _readme_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## Benchmark your own method", 1)[1].split("\n## ", 1)[0]


@pytest.mark.slow
def test_readme_benchmark_your_own_method_runs_on_a_slice_of_the_correlation_study(tmp_path):
    """The README's plugin and its three commands, as written, on two pairs
    of the committed correlation study (all ten seeds): the new method costs
    its own runs only, sits beside the 13 committed methods in the table and
    figures, and leaves the committed methods' rows as the slice's own report
    has them."""
    section = _readme_section()
    plugin = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    commands = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    assert len(commands.strip().splitlines()) == 3
    (tmp_path / "mymethod.py").write_text(plugin)
    pairs = [f"gp:rho={r},dim=2,lengthscale=0.2,instance=seed" for r in (-0.5, 0.5)]
    df = pd.read_parquet(STUDY)
    study = tmp_path / "results" / "correlation"
    study.mkdir(parents=True)
    df[df["pair"].isin(pairs)].to_parquet(study / "results.parquet", index=False)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env["PYTHONPATH"] = str(ROOT)  # the package under test, not the working directory
    done = subprocess.run(
        ["bash", "-e", "-c", commands],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=3000,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "20 done, 0 failed" in done.stdout  # 2 pairs x 10 seeds: its own runs only
    report = tmp_path / "runs" / "mine" / "report"
    assert (report / "regret_curves.png").exists() and (report / "table.md").exists()
    merged = pd.read_csv(report / "table.csv").set_index(["pair", "method"])
    assert set(merged.loc[pairs[0]].index) == set(df["method"]) | {"source-ucb"}
    assert main(["report", str(study), "--out", str(tmp_path / "alone")]) == 0
    alone = pd.read_csv(tmp_path / "alone" / "table.csv").set_index(["pair", "method"])
    # The committed methods' numbers are untouched. (Their verdicts here may
    # not be: on two pairs a negative verdict sits at Holm's threshold, which
    # the new method's two cells move; the full study's are checked below.)
    for column in ("n_seeds", "auc_mean", "final_regret_mean", "effect", "p_raw", "win_rate"):
        assert list(merged.loc[alone.index, column]) == pytest.approx(
            list(alone[column]), rel=1e-12, nan_ok=True
        ), column


@pytest.mark.slow
def test_merging_a_method_into_the_committed_correlation_study_keeps_its_verdicts(capsys, tmp_path):
    """The whole committed study plus a new method in every cell (a copy of
    its random-search runs under another label and run keys): with per-method
    families every committed row keeps its verdict and numbers."""
    df = load_results(STUDY)
    copy = df[df["method"] == "random"].assign(
        method="random-copy", run_key=lambda d: d["run_key"] + "-copy"
    )
    (tmp_path / "new").mkdir()
    copy.to_parquet(tmp_path / "new" / "results.parquet", index=False)
    family = ("--family", "method")  # the new method's families are its own
    code, _, err = _report(capsys, str(STUDY.parent), "--out", str(tmp_path / "alone"), *family)
    assert code == 0, err
    code, _, err = _report(
        capsys, str(STUDY.parent), str(tmp_path / "new"), "--out", str(tmp_path / "r"), *family
    )
    assert code == 0, err
    committed = pd.read_csv(tmp_path / "alone" / "table.csv").set_index(["pair", "method"])
    merged = pd.read_csv(tmp_path / "r" / "table.csv").set_index(["pair", "method"])
    assert len(merged) == len(committed) + committed.index.get_level_values("pair").nunique()
    assert list(merged.loc[committed.index, "verdict"]) == list(committed["verdict"])
    assert list(merged.loc[committed.index, "auc_mean"]) == pytest.approx(
        list(committed["auc_mean"]), rel=1e-12
    )
