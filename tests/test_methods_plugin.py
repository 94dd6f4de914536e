"""Third-party methods: the README example, and a plugin installed from a package."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import installed_plugin_package

ROOT = Path(__file__).resolve().parents[1]


def _readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Add your method", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_add_your_method_example_runs():
    """The README's example registers a method and runs it; a fresh interpreter
    keeps the registration out of this test session."""
    out = subprocess.run(
        [sys.executable, "-c", _readme_example()],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    status, best, *phases = out.stdout.split(maxsplit=2)
    # Not "found the basin at -6.02": Forrester's low-fidelity source has its
    # minimum in the target's local basin (-0.99 near x = 0.14), where the
    # method's source-first proposals go; whether two GP steps then leave it
    # depends on the seed's draws.
    assert status == "done" and -6.03 < float(best) < 1.0
    assert "['source', 'source', 'gp', 'gp']" in out.stdout


PLUGIN = '''
"""A third-party method: cold-gp with plain EI, shipped in its own package."""

from bo_transfer.methods import Method, register_method


@register_method("plugin-ei", summary="GP + EI from a plugin", citation="Plugin authors 2026")
class PluginEI(Method):
    def propose(self, X, y, seed):
        return self.gp_step(X, y, seed, acquisition="ei")
'''


@pytest.fixture
def installed_plugin(tmp_path):
    """A tiny package declaring an entry point in group ``bo_transfer.methods``,
    pip-installed into the running environment and uninstalled afterwards."""
    with installed_plugin_package(
        tmp_path, "bt_plugin_demo", PLUGIN, "bo_transfer.methods", "plugin-ei"
    ):
        yield "plugin-ei"


def test_an_installed_plugin_method_is_listed_and_runs(installed_plugin):
    code = textwrap.dedent(
        f"""
        from bo_transfer.cli import main
        from bo_transfer.methods import METHODS
        from bo_transfer.sweep import RunSpec, run_one
        cls = METHODS.get({installed_plugin!r})
        print(cls.__module__, cls.citation)
        r = run_one(RunSpec("forrester", {installed_plugin!r}, 0, budget=5, n_init=3, n_source=8))
        print(r.status, len(r.y))
        main(["list", "methods", "--format", "csv"])
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["bt_plugin_demo Plugin authors 2026", "done 5"]
    assert "plugin-ei,GP + EI from a plugin,Plugin authors 2026" in out.stdout
