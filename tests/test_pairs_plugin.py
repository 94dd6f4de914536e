"""Third-party pair families register through the ``bo_transfer.pairs`` entry points."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import installed_plugin_package

PLUGIN = "bo_transfer_test_plugin"

PLUGIN_MODULE = '''
"""A third-party family: a quadratic and its displaced copy."""

import torch

from bo_transfer.problems import FunctionProblem, Param, register_family


@register_family(
    "plugin-quadratic",
    params=[Param("offset", float, 0.2, -1.0, 1.0, "source displacement")],
    summary="test plugin",
    citation="none",
    examples=("plugin-quadratic:offset=0.2",),
)
def build(offset):
    target = FunctionProblem(lambda X: ((X - 0.5) ** 2).sum(-1), 2, "quad")
    source = FunctionProblem(lambda X: ((X - 0.5 - offset) ** 2).sum(-1), 2, "quad-shifted")
    return target, [source]
'''


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin")
    with installed_plugin_package(root, PLUGIN, PLUGIN_MODULE, "bo_transfer.pairs", "quadratic"):
        yield


def test_an_installed_plugin_family_is_found_by_get_pair(installed_plugin):
    # A fresh interpreter, as a user's would be: entry points are read on first lookup.
    code = (
        "from bo_transfer.problems import FAMILIES, get_pair\n"
        "p = get_pair('plugin-quadratic:offset=0.1')\n"
        "print(p.name, 'plugin-quadratic' in FAMILIES.names(), p.target.optimal_value < 1e-9)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["plugin-quadratic:offset=0.1", "True", "True"]
    # Teardown uninstalls it; a bare interpreter then no longer knows the family,
    # which the registry's unknown-name tests cover.
