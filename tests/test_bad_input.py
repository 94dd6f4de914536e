"""Every error a user can cause through the CLI: exit code 2, one line on stderr
naming the bad value and what is valid, and nothing written."""

import sqlite3

import pytest

from bo_transfer.cli import main

GOOD = {
    "seeds": "2",
    "budget": "5",
    "n_init": "3",
    "pairs": '["forrester"]',
    "methods": '["cold-gp"]',
}


def toml(**changes: str | None) -> str:
    fields = {**GOOD, **changes}
    return "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None)


SPEC_CASES = [
    ("unknown key", toml(budjet="5"), "unknown key 'budjet'; did you mean 'budget'?"),
    ("wrong type", toml(budget='"five"'), "budget: must be a positive integer, got 'five'"),
    ("float budget", toml(budget="5.5"), "budget: must be a positive integer"),
    ("bool seeds", toml(seeds="true"), "seeds: must be a count or a non-empty list"),
    ("empty pairs", toml(pairs="[]"), "pairs: must be a non-empty list"),
    ("empty methods", toml(methods="[]"), "methods: must be a non-empty list"),
    ("budget < n_init", toml(n_init="8"), "n_init: 8 is larger than budget 5"),
    ("zero seeds", toml(seeds="0"), "seeds: a count must be >= 1"),
    ("negative seed", toml(seeds="[-1, 2]"), "seeds: must be a count or a non-empty list"),
    ("duplicate seeds", toml(seeds="[1, 1]"), "duplicate seeds"),
    ("zero budget", toml(budget="0"), "budget: must be a positive integer, got 0"),
    ("missing key", toml(methods=None), "missing required key 'methods'"),
    (
        "duplicate labels",
        toml(methods='["cold-gp", {name = "random", label = "cold-gp"}]'),
        "label 'cold-gp' is used twice",
    ),
    ("rho out of range", toml(pairs='["gp:rho=1.5"]'), "rho=1.5 is outside [-1, 1]"),
    ("dim < 1", toml(pairs='["gp:dim=0"]'), "dim=0 is outside [1, 20]"),
    (
        "unknown parameter",
        toml(pairs='["gp:rh=0.5"]'),
        "has no parameter 'rh'; did you mean 'rho'?",
    ),
    ("unknown family", toml(pairs='["forester"]'), "unknown pair family 'forester'"),
    ("malformed pair", toml(pairs='["gp:rho"]'), "expected key=value, got 'rho'"),
    ("bad grid value", toml(pairs='[{family = "gp", rho = [0.5, 3.0]}]'), "rho=3.0 is outside"),
    ("grid without family", toml(pairs="[{rho = 0.5}]"), "a pair table needs family"),
    ("unknown method", toml(methods='["cold_gp"]'), "unknown method 'cold_gp'; did you mean"),
    ("unknown option", toml(methods='[{name = "cold-gp", gamma = 1}]'), "has no option 'gamma'"),
    ("method not a name", toml(methods="[3]"), "methods[0]: expected a method name or a table"),
    ("TOML syntax error", "seeds = [1,\nbudget = 5\n", "is not valid TOML"),
]


@pytest.mark.parametrize("label, text, message", SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_bad_specs(tmp_path, capsys, label, text, message):
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    out = tmp_path / "out"
    code = main(["run", str(spec), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_toml_syntax_error_names_the_line(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text("seeds = 2\nbudget = = 5\n")
    assert main(["run", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert "line 2" in capsys.readouterr().err


def _store_with_schema(directory, version: int):
    directory.mkdir()
    with sqlite3.connect(directory / "results.sqlite") as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))


CLI_CASES = [
    ("missing spec file", ["run", "{tmp}/nope.toml"], "spec file", "not found"),
    ("report of no results", ["report", "{tmp}/empty"], "no results in", None),
    ("export of no results", ["export", "{tmp}/empty"], "no results in", None),
    ("newer schema", ["report", "{tmp}/newer"], "schema version 99, newer than", "upgrade"),
    ("dask and slurm", ["run", "{spec}", "--dask", "local", "--slurm"], "conflicting", None),
    ("zero workers", ["run", "{spec}", "--workers", "0"], "--workers must be >= 1", None),
    ("workers with slurm", ["run", "{spec}", "--slurm", "--workers", "2"], "does not apply", None),
    ("bad format", ["report", "{tmp}/empty", "--format", "html"], "invalid choice: 'html'", None),
    ("bad metric", ["report", "{tmp}/empty", "--metric", "median"], "invalid choice", None),
    ("unknown command", ["frobnicate"], "invalid choice: 'frobnicate'", None),
    ("unknown pair to show", ["show", "gpp:rho=1"], "did you mean 'gp'", None),
    ("bad list target", ["list", "pears"], "invalid choice: 'pears'", None),
]


@pytest.mark.parametrize("label, args, message, also", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_cli_input(tmp_path, capsys, label, args, message, also):
    (tmp_path / "empty").mkdir()
    _store_with_schema(tmp_path / "newer", 99)
    spec = tmp_path / "spec.toml"
    spec.write_text(toml())
    before = sorted(p.name for p in tmp_path.rglob("*"))
    args = [a.format(tmp=tmp_path, spec=spec) for a in args]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and (also is None or also in err)
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def _csv(tmp_path):
    path = tmp_path / "past.csv"
    path.write_text("lr,loss\n0.01,1.5\n0.05,1.2\n")
    return path


def _register(name, target, sources, dim=1):
    from bo_transfer.problems import register_pair

    register_pair(name, target=target, sources=sources, dim=dim)


def _observed(tmp_path, bounds):
    from bo_transfer.problems import ObservedSource

    return ObservedSource.from_csv(_csv(tmp_path), inputs=["lr"], objective="loss", bounds=bounds)


def _good(X):
    return X[..., 0] ** 2


USER_PAIR_CASES = [
    (
        "wrong shape",
        lambda tmp: _register("bad-shape", lambda X: X, [_good]),
        "must map a n x 1 tensor to n values; got shape (4, 1)",
    ),
    (
        "NaN on first call",
        lambda tmp: _register("bad-nan", _good, [lambda X: X[..., 0] * float("nan")]),
        "returned non-finite values",
    ),
    (
        "inf on first call",
        lambda tmp: _register("bad-inf", lambda X: 1 / (X[..., 0] * 0), [_good]),
        "returned non-finite values",
    ),
    (
        "raises on first call",
        lambda tmp: _register("bad-raise", _good, [lambda X: X.foo]),
        "fails on a 4 x 1 input: AttributeError",
    ),
    ("no sources", lambda tmp: _register("bad-empty", _good, []), "needs at least one source"),
    ("lower >= upper", lambda tmp: _observed(tmp, [(0.1, 0.01)]), "need lower < upper"),
    ("equal bounds", lambda tmp: _observed(tmp, [(0.1, 0.1)]), "need lower < upper"),
]


@pytest.mark.parametrize(
    "label, call, message", USER_PAIR_CASES, ids=[c[0] for c in USER_PAIR_CASES]
)
def test_bad_user_built_pairs(tmp_path, label, call, message):
    from bo_transfer.errors import UserError
    from bo_transfer.problems import FAMILIES

    before = FAMILIES.names()
    with pytest.raises(UserError) as info:
        call(tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert FAMILIES.names() == before  # nothing registered
