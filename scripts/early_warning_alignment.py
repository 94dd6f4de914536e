"""The reference studies' runs scored for alignment post hoc: early-warning/alignment.csv.

The committed exports (``results/{correlation,multisource,literature}/results.parquet``)
were written before runs traced their alignment, but they hold every run's
evaluated points (``x``) and values (``y``), and problems, source data and
initial designs are exact by contract. So each run's alignment trace is
recomputed here, exactly as the runner records it
(:class:`~bo_transfer.methods.alignment.AlignmentTrace`): per (pair instance,
seed) the source data are rebuilt and one GP per source is fitted once, and
each run's first ``n`` points are scored for ``n`` = n_init, n_init + 5 and
n_init + 10 (:data:`OFFSETS`). Every run of the three studies is scored (no
subsampling): about 600 source fits, roughly 10-20 CPU-minutes on one core.

One row per run: ``study, pair, pair_instance, method, seed, n_init, budget,
n_sources``, the oracle (``pearson_mean``, ``pearson_worst``: the true
correlation of the sources with the target on the reference set), the run's
``auc`` (mean log10 normalized regret), cold-gp's on the same pair and seed
(``auc_cold``), ``effect = auc - auc_cold`` (> 0: worse than cold-gp), and per
offset ``o`` the alignment after ``n_init + o`` evaluations:
``n_o`` (finite values), ``tau_mean_o``, ``tau_worst_o``, ``cosine_mean_o``,
``cosine_worst_o`` (mean over sources and worst source).

Usage: ``python scripts/early_warning_alignment.py [--studies correlation,...]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bo_transfer.analysis.regret import read_export, run_metrics
from bo_transfer.methods.alignment import alignment_scores, source_posteriors
from bo_transfer.problems.pair import get_pair
from bo_transfer.sweep.spec import Sweep

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ("correlation", "multisource", "literature")
#: Evaluations after the initial design at which alignment is scored.
OFFSETS = (0, 5, 10)
OUT = ROOT / "results" / "early-warning" / "alignment.csv"


def study_rows(study: str) -> pd.DataFrame:
    df = read_export(ROOT / "results" / study / "results.parquet")
    n_source = Sweep.from_toml(ROOT / "benchmarks" / f"{study}.toml").n_source
    metrics = run_metrics(df).set_index(["pair", "method", "seed"])
    cold = metrics.xs("cold-gp", level="method")["auc"]
    rows = []
    started = time.perf_counter()
    groups = df.groupby(["pair_instance", "seed"], sort=True)
    for i, ((instance, seed), runs) in enumerate(groups):
        pair = get_pair(instance)
        posteriors, _ = source_posteriors(pair.source_data(int(seed), n_source))
        for (name, method), run in runs.groupby(["pair", "method"], sort=True):
            run = run.sort_values("iteration")
            n_init = int(run["n_init"].iloc[0])
            last = n_init + OFFSETS[-1]
            X = torch.tensor([json.loads(x) for x in run["x"].iloc[:last]], dtype=torch.float64)
            with torch.no_grad():
                predicted = -posteriors.means(X).numpy()
            y = run["y"].to_numpy(float)[:last]
            m = metrics.loc[(name, method, seed)]
            row = {
                "study": study,
                "pair": name,
                "pair_instance": instance,
                "method": method,
                "seed": int(seed),
                "n_init": n_init,
                "budget": int(run["budget"].iloc[0]),
                "n_sources": int(run["n_sources"].iloc[0]),
                "pearson_mean": run["pearson_mean"].iloc[0],
                "pearson_worst": run["pearson_worst"].iloc[0],
                "auc": m["auc"],
                "auc_cold": cold.loc[(name, seed)],
            }
            row["effect"] = row["auc"] - row["auc_cold"]
            for o in OFFSETS:
                s = alignment_scores(predicted[: n_init + o], y[: n_init + o])
                row[f"n_{o}"] = s["n"]
                for score in ("tau", "cosine"):
                    v = np.array(s[score], dtype=float)
                    row[f"{score}_mean_{o}"] = np.nanmean(v) if np.isfinite(v).any() else np.nan
                    row[f"{score}_worst_{o}"] = np.nanmin(v) if np.isfinite(v).any() else np.nan
            rows.append(row)
        if i % 20 == 0:
            print(
                f"{study}: {i + 1}/{len(groups)} instances, {time.perf_counter() - started:.0f} s"
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", default=",".join(STUDIES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    frames = [study_rows(s) for s in args.studies.split(",")]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(frames, ignore_index=True).to_csv(OUT, index=False, float_format="%.6g")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
