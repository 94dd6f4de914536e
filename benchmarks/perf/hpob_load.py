"""Load time and peak memory of a meta-data set of HPO-B's size.

    python benchmarks/perf/hpob_load.py [--dir /tmp/hpob-sized] [--datasets 50] [--points 1000 6500]

Writes (once; an existing folder is reused) a synthetic meta-data set in
HPO-B's file layout (:mod:`bo_transfer.problems.hpob_synthetic`) with
HPO-B-v3's 16 search spaces and their input dimensions (2 to 18, from HPO-B's
``meta-dataset-descriptors.json``), ``--datasets`` meta-train data sets per
space and a fifth of that in validation and test, each with a number of
configurations drawn from ``--points``. Never commit it: it is hundreds of MB.

Then, in a fresh process: the time to build a first ``hpob`` pair and draw its
source data (scans the meta-test and meta-train files for their search spaces,
parses the pair's space in each), a pair of a second space, then every space of
both files (the whole meta-data set a sweep over all of HPO-B-v3's tasks
reads), a pair already built again (cached: no parse); the process's peak
resident memory (max RSS) against its size after imports, and the size of the
arrays kept.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bo_transfer.problems.hpob_synthetic import SyntheticSpace, write_synthetic_hpob

#: HPO-B-v3's search spaces and their input dimensions.
HPOB_V3_DIMS = {
    "4796": 3,
    "5527": 8,
    "5636": 6,
    "5859": 6,
    "5860": 2,
    "5891": 8,
    "5906": 16,
    "5965": 10,
    "5970": 2,
    "5971": 16,
    "6766": 2,
    "6767": 18,
    "6794": 10,
    "7607": 9,
    "7609": 9,
    "5889": 6,
}

MEASURE = r"""
import json, os, resource, sys, time
os.environ["BO_TRANSFER_HPOB_DIR"] = sys.argv[1]
from bo_transfer.problems import get_pair
from bo_transfer.problems.hpob import load_space, split_spaces
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
get_pair(sys.argv[2]).source_data(0)
t1 = time.perf_counter()
get_pair(sys.argv[3]).source_data(0)
t2 = time.perf_counter()
kept = 0
for split in ("train", "test"):
    for space in split_spaces(split):
        kept += sum(X.nbytes + y.nbytes for X, y in load_space(split, space).values())
t3 = time.perf_counter()
get_pair(sys.argv[2]).source_data(1)
t4 = time.perf_counter()
print(json.dumps({"first_pair_s": t1 - t0, "second_space_pair_s": t2 - t1,
                  "every_space_of_train_and_test_s": t3 - t2, "cached_again_s": t4 - t3,
                  "rss_after_imports_mb": rss0 / 1024,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "arrays_kept_mb": kept / 2**20}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/hpob-sized", help="where the files go")
    parser.add_argument("--datasets", type=int, default=50, help="meta-train data sets per space")
    parser.add_argument("--points", type=int, nargs=2, default=(1000, 6500))
    args = parser.parse_args()
    root = Path(args.dir)
    small = max(1, args.datasets // 5)
    if not (root / "bo-initializations.json").is_file():
        spaces = [
            SyntheticSpace(
                space,
                dim,
                tuple(str(10_000 + i) for i in range(args.datasets)),
                tuple(str(20_000 + i) for i in range(small)),
                tuple(str(30_000 + i) for i in range(small)),
            )
            for space, dim in HPOB_V3_DIMS.items()
        ]
        write_synthetic_hpob(root, spaces, points=tuple(args.points))
    sizes = {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(root.glob("*.json"))}
    pairs = ["hpob:space=5971,dataset=30000", "hpob:space=4796,dataset=30000"]
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(root), *pairs],
        capture_output=True,
        text=True,
        check=True,
    )
    print(json.dumps({"files_mb": sizes, **json.loads(out.stdout)}, indent=2))


if __name__ == "__main__":
    main()
