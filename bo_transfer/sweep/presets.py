"""Spec keys for real meta-data sets: where their files are, and HPO-B's protocol.

- ``hpob_dir = "PATH"``: the folder with HPO-B's files; sets
  ``BO_TRANSFER_HPOB_DIR`` for this process and the sweep's local workers
  (which inherit the environment), taking precedence over a value already set.
- ``tables = ["mylab.toml", ...]``: table description files
  (:mod:`bo_transfer.problems.table`); their families are registered here and
  in the workers (through ``BO_TRANSFER_TABLES``).
- ``preset = "hpob-v3"``: HPO-B's evaluation protocol (Pineda Arango et al.
  2021; its ``HPOBHandler.evaluate``): seeds 0..4 (HPO-B's fixed initial
  designs ``test0`` .. ``test4``), 5 initial configurations, then 100 trials
  (``budget = 105``), and, unless ``pairs`` is given, every meta-test task of
  the files with its meta-train data sets as sources. Keys the spec sets itself
  win over the preset's.

Relative paths are relative to the working directory. None of these keys enters
the stored spec or the run keys: moving the files changes no result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bo_transfer.errors import UserError
from bo_transfer.problems.hpob import HPOB_DIR_ENV, PROTOCOL, meta_test_pairs
from bo_transfer.problems.table import declare_tables

DATA_KEYS = ("preset", "hpob_dir", "tables")
PRESETS = ("hpob-v3",)


def apply_data_keys(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Act on a spec's data keys and return the spec with its preset's defaults
    filled in; every problem found is appended to ``problems``."""
    data = dict(data)
    if "hpob_dir" in data:
        raw = data["hpob_dir"]
        if isinstance(raw, str) and raw.strip():
            os.environ[HPOB_DIR_ENV] = str(Path(raw).expanduser().resolve())
        else:
            problems.append(f"hpob_dir: must be a folder path, got {raw!r}")
    if "tables" in data:
        paths = data["tables"]
        if isinstance(paths, list) and all(isinstance(p, str) for p in paths):
            for i, path in enumerate(paths):
                try:
                    declare_tables([path])
                except UserError as exc:
                    problems.append(f"tables[{i}]: {exc}")
        else:
            problems.append(f"tables: must be a list of table description files, got {paths!r}")
    preset = data.get("preset")
    if preset is None:
        return data
    if preset not in PRESETS:
        problems.append(f"preset: {preset!r} is not one of {', '.join(PRESETS)}")
        return data
    for key, value in PROTOCOL.items():
        data.setdefault(key, value)
    if "pairs" not in data:
        try:
            data["pairs"] = meta_test_pairs()
        except UserError as exc:
            problems.append(f"preset {preset}: {exc}")
    return data
