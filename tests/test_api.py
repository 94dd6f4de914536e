import os
import subprocess
import sys

import bo_transfer


def test_top_level_api_matches_the_cli_workflow(tiny_results):
    df = bo_transfer.load_results(tiny_results)
    table = bo_transfer.summarize(df)
    assert set(table["method"]) == {"random", "cold-gp", "init-transfer", "prior-mean"}
    assert callable(bo_transfer.run_sweep) and hasattr(bo_transfer.Sweep, "from_toml")


def test_plugin_modules_from_the_environment_register_in_worker_processes(tmp_path):
    """A method defined in a plain module (no packaging) is usable in a sweep with
    spawned workers when named in BO_TRANSFER_PLUGINS."""
    (tmp_path / "my_methods.py").write_text(
        "from bo_transfer.methods import Method, register_method\n"
        "from bo_transfer.problems.base import sobol\n"
        "@register_method('my-sobol', summary='test', citation='none')\n"
        "class MySobol(Method):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "    def propose(self, X, y, seed):\n"
        "        return sobol(len(X) + 1, self.dim, self.seed + 1)[-1:]\n"
    )
    spec = tmp_path / "s.toml"
    spec.write_text(
        'seeds = 2\nbudget = 4\nn_init = 2\npairs = ["forrester"]\nmethods = ["my-sobol"]\n'
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "BO_TRANSFER_PLUGINS": "my_methods",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bo_transfer", "run", str(spec), "--out", str(tmp_path / "o")]
        + ["--workers", "2", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 done, 0 failed" in proc.stdout

    env["BO_TRANSFER_PLUGINS"] = "no_such_module"
    proc = subprocess.run(
        [sys.executable, "-m", "bo_transfer", "list", "methods"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "importing 'no_such_module' failed: ModuleNotFoundError" in proc.stderr


def test_importing_the_package_leaves_matplotlibs_backend_alone():
    """A notebook's backend survives ``import bo_transfer`` (figures draw on
    ``Figure()`` objects and need no backend of their own)."""
    code = (
        "import matplotlib; matplotlib.use('svg');"
        "import bo_transfer, bo_transfer.analysis.figures, bo_transfer.problems.plot;"
        "print(matplotlib.get_backend())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "svg"
