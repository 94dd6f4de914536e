import pytest

from bo_transfer.errors import SpecError, UserError
from bo_transfer.sweep import Sweep

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
        ({"methods": [{"name": "cold-gp", "beta": 2}]}, "has no option 'beta'"),
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


def test_run_keys_depend_on_what_determines_a_run():
    s = Sweep.from_dict(spec(methods=["cold-gp", {"name": "cold-gp", "label": "again"}]))
    runs = s.runs()
    keys = {r.key for r in runs}
    # the label is presentation: same method, options, pair, seed => same run
    assert len(keys) == 2
