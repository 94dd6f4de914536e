"""The early-warning study and the warning models diagnose uses.

Reads ``results/early-warning/alignment.csv`` (written by
``scripts/early_warning_alignment.py`` from the committed studies' exports)
and writes, in ``results/early-warning/``:

- ``roc.csv``: per transfer method and checkpoint (n_init, n_init + 5,
  n_init + 10), ROC AUC [95% bootstrap interval] of each alignment score for
  "this seed ends worse than cold-gp", beside the oracle and the
  no-information baseline;
- ``calibration.csv`` and ``calibration.png``/``.pdf``: the warning models'
  held-out calibration (fitted on even seeds, scored on odd, and back);
- ``decision.csv`` and ``decision.png``/``.pdf``: regret of "warm start only
  when alignment >= t" over t, against always and never transferring, with
  guarded's threshold;
- ``tables.md``: the tables results/README.md shows;

and ``bo_transfer/data/early_warning.json``: the logistic models fitted on
every run, with their held-out calibration (what ``bo-transfer diagnose``
reads). Runs in about a minute.

Usage: ``python scripts/early_warning.py``
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bo_transfer.analysis.early_warning import (
    MODEL_SCORE,
    decision_curves,
    fit_warning_models,
    heldout_calibration,
    plot_calibration,
    plot_decision,
    roc_table,
    summary_tables,
)

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "results" / "early-warning"
MODELS = ROOT / "bo_transfer" / "data" / "early_warning.json"


def main() -> None:
    runs = pd.read_csv(STUDY / "alignment.csv")
    roc = roc_table(runs)
    roc.to_csv(STUDY / "roc.csv", index=False, float_format="%.4g")
    calibration = heldout_calibration(runs)
    calibration.assign(bins=calibration["bins"].map(json.dumps)).to_csv(
        STUDY / "calibration.csv", index=False, float_format="%.4g"
    )
    curves = decision_curves(runs)
    curves.to_csv(STUDY / "decision.csv", index=False, float_format="%.4g")
    for name, figure in (
        ("calibration", plot_calibration(calibration)),
        ("decision", plot_decision(curves, MODEL_SCORE, 0)),
    ):
        for ext in ("png", "pdf"):
            figure.savefig(STUDY / f"{name}.{ext}", dpi=110, metadata=_no_date(ext))
    (STUDY / "tables.md").write_text(summary_tables(runs, roc, curves) + "\n")
    MODELS.parent.mkdir(exist_ok=True)
    models = fit_warning_models(runs)
    models["fitted_on"] = "results/early-warning/alignment.csv (scripts/early_warning.py)"
    MODELS.write_text(json.dumps(models, indent=1) + "\n")
    print(f"wrote {STUDY.relative_to(ROOT)}/ and {MODELS.relative_to(ROOT)}")


def _no_date(ext: str) -> dict:
    """Figure metadata without a timestamp, so a re-run rewrites identical files."""
    return {"CreationDate": None} if ext == "pdf" else {}


if __name__ == "__main__":
    main()
