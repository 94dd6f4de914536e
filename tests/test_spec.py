import hashlib
import json

import pytest

from bo_transfer import columns as C
from bo_transfer.analysis import load_results, summarize
from bo_transfer.errors import SpecError, UserError
from bo_transfer.problems.pair import DEFAULT_N_SOURCE
from bo_transfer.sweep import LocalExecutor, Sweep, run_sweep
from bo_transfer.sweep.runner import RunLoop, RunResult

BASE = {"seeds": 2, "budget": 6, "n_init": 3, "pairs": ["forrester"], "methods": ["cold-gp"]}


def spec(**changes):
    d = dict(BASE)
    for k, v in changes.items():
        if v is None:
            d.pop(k)
        else:
            d[k] = v
    return d


def test_grid_tables_expand_to_the_product_of_list_values():
    s = Sweep.from_dict(
        spec(pairs=[{"family": "gp", "rho": [0.9, -0.9], "dim": [1, 2]}, "forrester"])
    )
    assert len(s.pairs) == 5
    assert "gp:rho=-0.9,dim=1,lengthscale=0.2,instance=0" in s.pairs
    assert len(s.runs()) == 5 * 1 * 2


def test_seed_count_and_seed_list():
    assert Sweep.from_dict(spec(seeds=3)).seeds == (0, 1, 2)
    assert Sweep.from_dict(spec(seeds=[4, 9])).seeds == (4, 9)


def test_same_method_with_labels_and_options():
    s = Sweep.from_dict(spec(methods=["cold-gp", {"name": "prior-mean", "label": "pm"}]))
    assert [m.label for m in s.methods] == ["cold-gp", "pm"]
    assert {r.method_label for r in s.runs()} == {"cold-gp", "pm"}


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"pairs": ["gp:rho=0.9", "gpp:rho=0.2"]},
            "pairs[1]: unknown pair family 'gpp'; did you mean 'gp'",
        ),
        ({"methods": ["cold_gp"]}, "methods[0]: unknown method 'cold_gp'; did you mean 'cold-gp'"),
        ({"n_init": 10}, "n_init: 10 is larger than budget 6"),
        ({"budjet": 5}, "unknown key 'budjet'; did you mean 'budget'"),
        ({"budget": "ten"}, "budget: must be a positive integer"),
        ({"seeds": 0}, "seeds: a count must be >= 1"),
        ({"seeds": [1, 1]}, "duplicate seeds"),
        ({"pairs": []}, "pairs: must be a non-empty list"),
        ({"methods": None}, "missing required key 'methods'"),
        ({"pairs": ["gp:rho=2"]}, "rho=2 is outside [-1, 1]"),
        ({"methods": ["cold-gp", "cold-gp"]}, "label 'cold-gp' is used twice"),
        ({"methods": [{"name": "cold-gp", "gamma": 2}]}, "has no option 'gamma'"),
    ],
)
def test_invalid_specs_name_the_bad_field(changes, message):
    with pytest.raises(SpecError) as info:
        Sweep.from_dict(spec(**changes))
    assert message in str(info.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SpecError) as info:
        Sweep.from_dict(spec(pairs=["nope"], methods=["nada"], n_init=99))
    assert len(info.value.problems) == 3


def test_missing_and_malformed_toml_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        Sweep.from_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seeds = [1,\n")
    with pytest.raises(UserError, match="not valid TOML"):
        Sweep.from_toml(bad)


def old_key(pair: str, method: str, options: dict, seed: int, budget: int, n_init: int) -> str:
    """A run key as it was computed before labels were keyed (default source options)."""
    fields = [pair, method, options, seed, budget, n_init, DEFAULT_N_SOURCE]
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def test_labels_are_part_of_the_run_key():
    """Two entries never share stored results; entries without an explicit
    label keep the keys they had before labels were keyed."""
    runs = Sweep.from_dict(spec(methods=["cold-gp", {"name": "cold-gp", "label": "again"}])).runs()
    assert len({r.key for r in runs}) == 4  # 2 entries x 2 seeds
    pair = runs[0].pair  # the canonical name
    assert [r.key for r in runs if r.method_label == "cold-gp"] == [
        old_key(pair, "cold-gp", {}, seed, 6, 3) for seed in (0, 1)
    ]
    auto = Sweep.from_dict(spec(methods=["cold-gp", {"name": "cold-gp", "acquisition": "ei"}]))
    assert [r.method_label for r in auto.runs()[2:]] == ["cold-gp[acquisition=ei]"] * 2
    assert [r.key for r in auto.runs()[2:]] == [
        old_key(pair, "cold-gp", {"acquisition": "ei"}, seed, 6, 3) for seed in (0, 1)
    ]


def test_entries_that_would_share_stored_results_are_refused():
    same = [{"name": "cold-gp", "acquisition": "ei", "label": "cold-gp"}]
    same.append({"name": "cold-gp", "acquisition": "ei"})  # labelled cold-gp[acquisition=ei]
    with pytest.raises(SpecError, match="would share stored results") as err:
        Sweep.from_dict(spec(methods=same))
    assert "'cold-gp' and 'cold-gp[acquisition=ei]'" in str(err.value)


def test_two_labels_of_one_method_are_an_aa_pair(tmp_path):
    """Both entries run and are stored; per seed they share the initial design
    and draw different random streams; the report pairs them."""
    sweep = Sweep.from_dict(
        spec(budget=4, methods=["cold-gp", {"name": "cold-gp", "label": "cold-gp-B"}])
    )
    summary = run_sweep(sweep, tmp_path, executor=LocalExecutor(1), progress=False)
    assert (summary.done, summary.skipped, summary.failed) == (4, 0, 0)
    df = load_results(tmp_path)
    assert df.groupby(C.METHOD)[C.SEED].nunique().to_dict() == {"cold-gp": 2, "cold-gp-B": 2}
    for seed in (0, 1):
        design = df[(df[C.SEED] == seed) & (df[C.ITERATION] <= 3)]
        a, b = (design[design[C.METHOD] == m]["x"].tolist() for m in ("cold-gp", "cold-gp-B"))
        assert a == b
    a, b = (r for r in sweep.runs() if r.seed == 0)
    seeds = [RunLoop(r, RunResult(r, "done")).iteration_seed(3) for r in (a, b)]
    assert seeds[0] != seeds[1]
    table = summarize(df).set_index(C.METHOD)
    assert table.loc["cold-gp-B", "n_paired"] == 2 and table.loc["cold-gp", "verdict"] == "baseline"


def test_a_sweep_built_in_python_is_validated_like_a_spec_file():
    from bo_transfer.sweep import MethodEntry

    with pytest.raises(SpecError) as info:
        Sweep("s", (0, 1), budget=3, n_init=5, pairs=("nope",), methods=("cold-gp",))
    assert any("n_init: 5 is larger than budget 3" in p for p in info.value.problems)
    assert any("unknown pair family 'nope'" in p for p in info.value.problems)
    sweep = Sweep("s", (0,), 4, 3, ("forrester",), (MethodEntry("cold-gp", "cold-gp"),))
    assert sweep.pairs[0].startswith("forrester:a=")  # made canonical
