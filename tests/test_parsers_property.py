"""Property-based tests of the two parsers users feed by hand: pair names and specs."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bo_transfer.errors import UserError
from bo_transfer.problems import canonical_pair_name
from bo_transfer.sweep import Sweep

rhos = st.floats(-1, 1, allow_nan=False).map(lambda v: round(v, 3))
gp_names = st.builds(
    lambda rho, dim, ls, inst, order: (
        "gp:"
        + ",".join(
            [f"rho={rho}", f"dim={dim}", f"lengthscale={ls}", f"instance={inst}"][i] for i in order
        )
    ),
    rhos,
    st.integers(1, 6),
    # At least 0.2: rougher samples in 6-D are refused (too many basins to certify).
    st.sampled_from([0.2, 0.5, 1.0]),
    st.one_of(st.integers(0, 50), st.just("seed")),
    st.permutations(range(4)),
)


@given(gp_names)
def test_pair_names_round_trip_and_ignore_parameter_order(name):
    canonical = canonical_pair_name(name)
    assert canonical_pair_name(canonical) == canonical
    assert canonical.startswith("gp:rho=")


@given(st.text(max_size=40))
def test_arbitrary_pair_names_parse_or_give_a_one_line_user_error(name):
    try:
        canonical_pair_name(name)
    except UserError as exc:
        assert "\n" not in str(exc)


valid_specs = st.fixed_dictionaries(
    {
        "seeds": st.one_of(
            st.integers(1, 5), st.lists(st.integers(0, 100), min_size=1, max_size=4, unique=True)
        ),
        "budget": st.integers(5, 30),
        "n_init": st.integers(1, 5),
        "pairs": st.lists(gp_names, min_size=1, max_size=3),
        "methods": st.lists(
            st.sampled_from(["random", "cold-gp", "init-transfer", "prior-mean"]),
            min_size=1,
            max_size=4,
            unique=True,
        ),
    }
)


@given(valid_specs)
def test_valid_specs_round_trip(spec):
    sweep = Sweep.from_dict(spec)
    again = Sweep.from_dict(
        {
            **json.loads(sweep.to_json()),
            "methods": [m.name for m in sweep.methods],
        }
    )
    assert again == sweep
    assert len(sweep.runs()) == len(sweep.pairs) * len(sweep.methods) * len(sweep.seeds)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["seeds", "budget", "n_init", "pairs", "methods", "name", "n_source", "x"]),
        json_values,
    )
)
def test_arbitrary_specs_validate_or_give_user_errors(data):
    try:
        Sweep.from_dict(data)
    except UserError as exc:
        assert str(exc)
