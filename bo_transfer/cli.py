"""The ``bo-transfer`` command line: parses arguments, calls the four packages."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bo_transfer.errors import UserError
from bo_transfer.outputs import check_file, check_folder

if TYPE_CHECKING:
    import pandas as pd

#: Exit codes (README, "Command line"): 0-2 are DESIGN.md's contract; 3 is a
#: bug of ours (the traceback goes to a log file); 130 and 143 are the shell's
#: codes for a process ended by SIGINT (Ctrl-C) and SIGTERM.
EXIT_OK, EXIT_RUNS_FAILED, EXIT_USER_ERROR, EXIT_INTERNAL_ERROR = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler's time limit, ``kill``), raised in the main
    thread so that a sweep stops as on Ctrl-C: finished runs stored, workers
    stopped, the store closed."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (contract)
        raise UserError(f"{self.prog}: {message}")


def _text_table(rows: list[dict], columns: list[str]) -> str:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    # The last column is not padded: a line ends where its text does.
    return "\n".join(line.rstrip() for line in lines)


def _emit(rows: list[dict], columns: list[str], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=2))
    elif fmt == "csv":
        import pandas as pd

        print(pd.DataFrame(rows, columns=columns).to_csv(index=False), end="")
    else:
        print(_text_table(rows, [c for c in columns if c != "citation"]))


def cmd_list(args: argparse.Namespace) -> int:
    if args.what == "methods":
        from bo_transfer.methods import METHODS
        from bo_transfer.methods.registry import option_defaults

        # ``options``: each option with its default, as a spec (TOML) writes it
        # (``name = {name = "cold-gp", acquisition = "ucb"}``).
        rows = [
            {
                "name": n,
                "options": ", ".join(
                    f"{k}={json.dumps(v)}" for k, v in option_defaults(METHODS.get(n))
                ),
                "summary": METHODS.get(n).summary,
                "citation": METHODS.get(n).citation,
            }
            for n in METHODS.names()
        ]
        # After the contract's columns in csv and json, so scripts reading them keep working.
        columns = ["name", "summary", "citation", "options"]
        _emit(
            rows, ["name", "options", "summary"] if args.format == "table" else columns, args.format
        )
        return EXIT_OK
    from bo_transfer.problems import FAMILIES, get_pair
    from bo_transfer.problems.families import canonical_pair_name
    from bo_transfer.problems.pair import DIAGNOSTICS, instance_diagnostics

    # One row per source (contract: multi-source pairs list each source's
    # diagnostics; ``source`` numbers them). An instance=seed pair's values are
    # medians over the instances of seeds 0-9 (``instances``), with their range
    # in the csv and json formats (``pearson_min``, ``pearson_max``, ...).
    rows = []
    for family_name in FAMILIES.names():
        family = FAMILIES.get(family_name)
        for example in family.examples:
            try:
                pair = get_pair(example)
            except UserError as exc:  # a data-backed family (hpob) whose files are absent
                print(f"skipping {example}: {exc}", file=sys.stderr)
                continue
            for k, d in enumerate(instance_diagnostics(example)):
                rows.append(
                    {
                        "name": canonical_pair_name(example),
                        "family": family_name,
                        "dim": pair.dim,
                        "n_sources": len(pair.sources),
                        "source": k,
                        "instances": d["instances"],
                        **{key: round(v, 3) for key, v in d.items() if key != "instances"},
                        "citation": family.citation,
                    }
                )
    columns = [
        "name",
        "family",
        "dim",
        "n_sources",
        "source",
        "pearson",
        "spearman",
        "optimum_distance",
        "instances",
        "citation",
    ]
    if args.format != "table":
        columns += [f"{d}_{b}" for d in DIAGNOSTICS for b in ("min", "max")]
    _emit(rows, columns, args.format)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from bo_transfer.problems import get_pair
    from bo_transfer.problems.families import canonical_pair_name, is_seeded
    from bo_transfer.problems.pair import DIAGNOSTICS, instance_diagnostics
    from bo_transfer.problems.plot import plot_pair

    name, note = canonical_pair_name(args.pair), ""
    default = "".join(c if c.isalnum() or c in "=.-" else "_" for c in name)
    out = _image_path(Path(args.out or f"{default}.png"))
    pair = get_pair(args.pair)  # instance 0 of an instance=seed pair
    if is_seeded(name):
        note = f"instance=seed: drawing instance 0 ({pair.name})"
        print(f"{name}: {note}; diagnostics over the instances of seeds 0-9, median [min, max]")
    for k, d in enumerate(instance_diagnostics(name)):
        spread = {key: f" [{d[key + '_min']:.3f}, {d[key + '_max']:.3f}]" for key in DIAGNOSTICS}
        values = {key: f"{d[key]:.3f}" + (spread[key] if note else "") for key in DIAGNOSTICS}
        print(
            f"{name} source {k}: pearson {values['pearson']}, spearman {values['spearman']}, "
            f"optimum distance {values['optimum_distance']}; target optimum "
            f"{pair.target.optimal_value:.6g} ({pair.target.optimum.how})"
        )
    _show_protocol(name, args)
    figure = plot_pair(pair, note)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, dpi=120)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}") from None
    print(f"wrote {out}")
    return EXIT_OK


def _show_protocol(name: str, args: argparse.Namespace) -> None:
    """Print the protocol fingerprint fields a run of pair ``name`` at
    ``--seed`` with ``--n-source`` and ``--n-init`` records (budget aside)."""
    from bo_transfer.sweep.runner import RunSpec, protocol_of

    for flag, value in (("--n-source", args.n_source), ("--n-init", args.n_init)):
        if value < 1:
            raise UserError(f"{flag} must be >= 1, got {value}")
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, got {args.seed}")
    spec = RunSpec(name, "random", args.seed, args.n_init, args.n_init, args.n_source)
    fields = {k: v for k, v in protocol_of(spec).items() if k != "budget" and v is not None}
    print("protocol: " + ", ".join(f"{k}={v}" for k, v in fields.items()))


def _image_path(out: Path) -> Path:
    """``show --out``: the file that will be written (a name without an
    extension gets ``.png``, as matplotlib would add it); an extension no
    backend writes is refused."""
    from matplotlib.backend_bases import FigureCanvasBase

    check_file(out)
    formats = FigureCanvasBase.get_supported_filetypes()
    if not out.suffix:
        return out.with_name(out.name + ".png")
    if out.suffix[1:].lower() not in formats:
        known = ", ".join(f".{f}" for f in sorted(formats))
        raise UserError(f"--out {str(out)!r}: no image format {out.suffix!r}; use one of {known}")
    return out


def _executor(args: argparse.Namespace, out: Path):
    from bo_transfer.sweep import DaskExecutor, LocalExecutor, SlurmExecutor

    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    if args.dask and args.slurm:
        raise UserError("--dask and --slurm are conflicting executors; choose one")
    if args.dask:
        return DaskExecutor(args.dask, args.workers)
    if args.slurm:
        if args.workers is not None:
            raise UserError("--workers does not apply to --slurm; use --slurm-parallelism")
        return SlurmExecutor(
            out / "slurm",
            partition=args.slurm_partition,
            time_min=args.slurm_time,
            array_parallelism=args.slurm_parallelism,
            chunk_size=args.slurm_chunk,
            cluster=args.slurm_cluster,
            account=args.slurm_account,
            qos=args.slurm_qos,
            mem=args.slurm_mem,
            options=args.slurm_option,
        )
    return LocalExecutor(args.workers)


def cmd_run(args: argparse.Namespace) -> int:
    from bo_transfer.sweep import Sweep, run_sweep

    if (args.spec is None) == (args.like is None):
        raise UserError("run: give a SPEC.toml or --like STUDY (one of them)")
    if (args.methods is None) != (args.like is None):
        raise UserError("run: --methods goes with --like STUDY (a spec lists its own methods)")
    if args.like is not None:
        if args.out is None:
            raise UserError("run --like: give --out DIR for the new runs")
        sweeps = _like_sweeps(args.like, args.methods)
    else:
        sweeps = [Sweep.from_toml(args.spec)]
    out = Path(args.out or Path("runs") / sweeps[0].name)
    runs = [s for sweep in sweeps for s in sweep.runs()]
    if args.dry_run:
        for s in runs:
            print(f"{s.key}  {s.pair}  {s.method_label}  seed={s.seed}")
        print(f"{len(runs)} runs")
        return EXIT_OK
    if args.batch_seeds is not None and args.batch_seeds < 1:
        raise UserError(f"--batch-seeds must be >= 1, got {args.batch_seeds}")
    from bo_transfer.sweep.plan import check_device

    check_device(
        args.device or sweeps[0].device,
        "--device" if args.device else f"{args.spec or args.like}: device =",
    )
    executor = _executor(args, out)
    failed = False
    for sweep in sweeps:
        summary = run_sweep(
            sweep,
            out,
            executor=executor,
            retry_failed=args.retry_failed,
            # A study of several settings is several specs in one directory.
            append=args.append or args.like is not None,
            progress=not args.quiet,
            batch_seeds=args.batch_seeds,
            device=args.device,
        )
        for line in summary.lines():
            print(line)
        failed = failed or bool(summary.failed or summary.lost)
    print(f"results in {out / 'results.sqlite'}")
    # Runs lost on a cluster are not done either: the same command runs them.
    return EXIT_RUNS_FAILED if failed else EXIT_OK


def _like_sweeps(study: str, methods_text: str) -> list:
    """The sweeps of ``run --like STUDY --methods A,B``."""
    from bo_transfer.analysis.inputs import resolve_input
    from bo_transfer.analysis.protocols import PROTOCOL, parse
    from bo_transfer.analysis.regret import load_results
    from bo_transfer.sweep.like import like_sweeps

    source = resolve_input(study)
    runs = load_results(source).drop_duplicates("run_key")
    methods = [m.strip() for m in methods_text.split(",") if m.strip()]
    name = f"like-{Path(study).resolve().name or 'study'}"
    if Path(source).is_file():
        name = f"like-{Path(source).resolve().parent.name}"
    return like_sweeps(name, [parse(t) for t in runs[PROTOCOL]], methods, study)


def _parse_budgets(text: str | None, largest: int) -> tuple[int, ...]:
    """``--at 10,25,50`` -> (10, 25, 50); each within 1..largest (the smallest run budget)."""
    if not text:
        return ()
    out = []
    for part in text.split(","):
        try:
            b = int(part)
        except ValueError:
            raise UserError(
                f"--at: {part.strip()!r} is not an integer; use e.g. --at 10,25"
            ) from None
        if not 1 <= b <= largest:
            raise UserError(f"--at: budget {b} is outside 1..{largest} (the smallest run budget)")
        out.append(b)
    return tuple(sorted(set(out)))


def _margin(text: str) -> float:
    """``--margin``: a positive, finite number of log10 units."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of log10 units, got {text!r}")
    return value


def cmd_report(args: argparse.Namespace) -> int:
    from bo_transfer.analysis import build_report
    from bo_transfer.analysis.inputs import load_inputs

    source = Path(args.inputs[0])
    # An export file's report goes next to it; a sweep directory's inside it.
    out = Path(args.out or (source.parent if source.is_file() else source) / "report")
    check_folder(out)
    df, failed = load_inputs(args.inputs, args.prefer)
    if df.empty:
        raise UserError(_no_finished_runs(args.inputs[0]))
    methods = sorted(df["method"].unique())
    if args.baseline not in methods:
        raise UserError(
            f"--baseline {args.baseline!r} is not in the results; methods: {', '.join(methods)}"
        )
    study = f"{source.parent.name}/{source.name}" if source.is_file() else source.name
    chosen = _method_list("--methods", args.methods, methods)
    highlight = _method_list("--highlight", args.highlight, methods) or []
    at = _parse_budgets(args.at, int(df.groupby("run_key")["iteration"].max().min()))
    report = build_report(
        df,
        baseline=args.baseline,
        metric=args.metric,
        at=at,
        margin=args.margin,
        failed=failed,
        family=args.family,
        correction=args.correction,
        methods=chosen,
        highlight=tuple(highlight),
        title=f"bo_transfer report: {study}",
    )
    written = _write_report(report, out)
    texts = {"markdown": report.markdown(), "latex": report.latex(), "csv": report.csv()}
    print(texts[args.format], end="")
    print(f"wrote {', '.join(p.name for p in written)} to {out}", file=sys.stderr)
    return EXIT_OK


def _write_report(report, out: Path) -> list[Path]:
    """``report.write`` into a temporary folder next to ``out``, its files
    then moved into ``out``: a full disk or a read-only folder leaves no
    partial report (one line, exit 2)."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    created = not out.exists()
    try:
        written = report.write(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for path in written:
            os.replace(path, out / path.name)
    except OSError as exc:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise UserError(f"cannot write the report to {str(out)!r}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out / path.name for path in written]


def _method_list(flag: str, text: str | None, known: list[str]) -> list[str] | None:
    """``--methods a,b`` -> ["a", "b"]; each must be a method (row label) of
    the results; None when the flag is absent."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UserError(
            f"{flag}: {', '.join(map(repr, unknown)) or 'no method given'} is not in the "
            f"results; methods: {', '.join(known)}"
        )
    return names


def _no_finished_runs(directory: str) -> str:
    from bo_transfer.analysis import load_failed

    failed = load_failed(directory)
    if failed.empty:
        return f"no finished runs in {directory!r}"
    top = failed["error"].value_counts()
    return (
        f"no finished runs in {directory!r}: all {len(failed)} stored runs failed "
        f"({top.iloc[0]} with: {top.index[0]}); rerun with --retry-failed once fixed"
    )


def cmd_export(args: argparse.Namespace) -> int:
    from bo_transfer.analysis.regret import failed_rows, iter_results

    out = Path(args.out or Path(args.dir) / f"results.{args.format}")
    check_file(out)
    chunks = iter_results(args.dir)  # opens the store: a bad DIR fails before any write
    first = next(chunks, None)
    if first is None:
        raise UserError(_no_finished_runs(args.dir))
    failed = failed_rows(args.dir, first)
    if args.format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UserError("--format parquet needs pyarrow: pip install pyarrow") from None
    # Written under a temporary name and renamed once complete: an export cut
    # short (Ctrl-C, a full disk) never lies under the final name.
    tmp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = _write_export(tmp, args.format, first, chunks, failed)
        os.replace(tmp, out)
    except OSError as exc:
        raise UserError(
            f"cannot write {out}: {exc.strerror or exc}; "
            "give --out a file in a folder you can write"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    print(f"wrote {rows} rows to {out}")
    return EXIT_OK


def _write_export(
    out: Path, fmt: str, first: pd.DataFrame, chunks: Iterator, failed: pd.DataFrame
) -> int:
    """Write the tidy table's chunks (``first``, then ``chunks``), then the
    failed runs' rows (the columns of ``first``) to ``out``; returns the
    number of rows."""
    rows = 0
    chunks = itertools.chain([first], chunks, [failed] if len(failed) else [])
    if fmt == "parquet":
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        # A failed run's empty cells make an integer column (n_sources) float.
        like = pd.concat([first, failed], ignore_index=True) if len(failed) else first
        schema = pa.Schema.from_pandas(like, preserve_index=False)
        with pq.ParquetWriter(out, schema) as writer:
            for chunk in chunks:
                writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
                rows += len(chunk)
    else:
        with open(out, "w", newline="") as handle:
            for i, chunk in enumerate(chunks):
                chunk.to_csv(handle, index=False, header=i == 0)
                rows += len(chunk)
    return rows


def cmd_diagnose(args: argparse.Namespace) -> int:
    from bo_transfer.analysis.diagnose import diagnose, diagnose_pair, read_tables

    table = args.sources is not None or args.target is not None
    if table == (args.pair is not None) or (table and None in (args.sources, args.target)):
        raise UserError("diagnose takes a PAIR, or --sources S.csv and --target T.csv")
    if table:
        if args.evaluations is not None or args.n_source is not None:
            raise UserError(
                "--evaluations and --n-source apply to a PAIR; the tables have their own rows"
            )
        sources, X, y, names = read_tables(args.sources, args.target)
        diagnosis = diagnose(sources, X, y, seed=args.seed, names=names)
        diagnosis.title = f"{args.target} against the sources of {args.sources}"
    else:
        from bo_transfer.analysis.diagnose import DEFAULT_EVALUATIONS

        evaluations = DEFAULT_EVALUATIONS if args.evaluations is None else args.evaluations
        diagnosis = diagnose_pair(args.pair, evaluations, args.seed, args.n_source)
    print(diagnosis.text())
    return EXIT_OK


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def build_parser() -> argparse.ArgumentParser:
    from bo_transfer import __version__
    from bo_transfer.sweep.spec import DEFAULT_BATCH_SEEDS

    p = _Parser(prog="bo-transfer", description="Benchmark warm-started Bayesian optimization.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("list", help="list registered pairs or methods")
    s.add_argument("what", choices=["pairs", "methods"], help="what to list")
    s.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default="table",
        help="output format (default: table)",
    )
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("show", help="plot a pair's source and target, print diagnostics")
    s.add_argument("pair", help="a pair name, e.g. gp:rho=0.5,dim=2")
    s.add_argument("--out", help="image file (default: <pair>.png)")
    s.add_argument("--seed", type=int, default=0, help="the seed whose protocol to print")
    s.add_argument("--n-source", type=int, default=32, help="source points per source (default 32)")
    s.add_argument("--n-init", type=int, default=5, help="initial design size (default 5)")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser(
        "run", help="run a sweep spec (TOML), or a study's protocol for other methods"
    )
    s.add_argument(
        "spec",
        nargs="?",
        help="the sweep spec, a TOML file (e.g. benchmarks/quickstart.toml); or use --like",
    )
    s.add_argument(
        "--like",
        metavar="STUDY",
        help="run exactly STUDY's pairs, seeds, budgets and source settings (STUDY: a "
        "results directory or an export file) for the --methods only",
    )
    s.add_argument("--methods", metavar="NAME[,NAME...]", help="the methods to run with --like")
    s.add_argument("--out", help="sweep directory (default: runs/<spec name>)")
    s.add_argument("--workers", type=int, help="worker processes (default: number of cores)")
    s.add_argument("--dask", metavar="ADDRESS", help="'local' (a LocalCluster) or tcp://HOST:PORT")
    s.add_argument("--slurm", action="store_true", help="submit to Slurm through submitit")
    s.add_argument("--slurm-partition", help="Slurm partition (default: the cluster's)")
    s.add_argument("--slurm-account", help="Slurm account to charge (default: yours)")
    s.add_argument("--slurm-qos", help="Slurm quality of service (default: the cluster's)")
    s.add_argument("--slurm-mem", help="memory per array task, e.g. 4G (default: the cluster's)")
    s.add_argument(
        "--slurm-option",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="any other sbatch option, e.g. constraint=haswell (repeatable)",
    )
    s.add_argument(
        "--slurm-time", type=int, default=60, help="minutes per array task (default: 60)"
    )
    s.add_argument(
        "--slurm-parallelism", type=int, default=64, help="array tasks at once (default: 64)"
    )
    s.add_argument(
        "--slurm-chunk", type=int, default=10, help="runs per array task, at most (default: 10)"
    )
    s.add_argument(
        "--slurm-cluster",
        choices=["slurm", "local"],
        default="slurm",
        help="'local' runs the array tasks as local processes (submitit's local executor; "
        "default: slurm)",
    )
    s.add_argument(
        "--batch-seeds",
        type=int,
        metavar="S",
        help="run up to S seeds of a batched method as one batched model (default: the "
        f"spec's batch_seeds, else {DEFAULT_BATCH_SEEDS}; 1 runs each seed alone); the "
        "numbers agree in distribution",
    )
    s.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        help="where batched methods' steps run (default: the spec's device, else cpu)",
    )
    s.add_argument("--retry-failed", action="store_true", help="redo runs stored as failed")
    s.add_argument(
        "--append", action="store_true", help="allow a different spec in an existing DIR"
    )
    s.add_argument("--dry-run", action="store_true", help="print the expanded run list and exit")
    s.add_argument("--quiet", action="store_true", help="no progress output")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("report", help="regret tables, verdicts and figures of a sweep")
    s.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="sweep directories (their results.sqlite) or files bo-transfer export wrote "
        "(.csv or .parquet); runs of several inputs pair by seed, and only under the same "
        "protocol fingerprint",
    )
    s.add_argument(
        "--prefer",
        action="append",
        default=[],
        metavar="INPUT",
        help="keep this input's runs of a method label that several inputs hold (repeatable)",
    )
    s.add_argument(
        "--out",
        help="output directory (default: the first INPUT's: INPUT/report for a directory, "
        "report/ next to an export file)",
    )
    s.add_argument(
        "--format",
        choices=["markdown", "latex", "csv"],
        default="markdown",
        help="which table to print on stdout; every format is written to --out (default: markdown)",
    )
    s.add_argument(
        "--baseline",
        default="cold-gp",
        metavar="METHOD",
        help="the method every other is judged against (default: cold-gp)",
    )
    s.add_argument(
        "--metric",
        choices=["auc", "final"],
        default="auc",
        help="what the verdicts judge: the area under the log10-regret curve or the final "
        "log10 regret (default: auc)",
    )
    s.add_argument(
        "--margin",
        type=_margin,
        default=0.1,
        help="equivalence margin in log10 regret units (default 0.1)",
    )
    s.add_argument(
        "--at", help="also judge the runs at these budgets (evaluations), e.g. --at 10,25,50"
    )
    s.add_argument(
        "--family",
        choices=["setting", "method", "table"],
        default="setting",
        help="which comparisons one multiple-testing correction covers: those with the "
        "baseline on one pair (setting, default), one method's over every pair (method), or "
        "the whole table by the rules of earlier reports (table)",
    )
    s.add_argument(
        "--correction",
        choices=["holm", "bh"],
        default="holm",
        help="holm (family-wise error, default) or bh (Benjamini-Hochberg false discovery "
        "rate, for screening)",
    )
    s.add_argument(
        "--methods",
        metavar="A,B,...",
        help="report only these methods (and the baseline); default: all",
    )
    s.add_argument(
        "--highlight",
        metavar="A,B,...",
        help="draw these methods bold and the others faded in the figures (their regret "
        "curves get interquartile bands)",
    )
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("export", help="the tidy per-iteration table")
    s.add_argument("dir", metavar="DIR", help="a sweep directory (its results.sqlite)")
    s.add_argument(
        "--format", choices=["csv", "parquet"], default="csv", help="file format (default: csv)"
    )
    s.add_argument("--out", help="output file (default: DIR/results.<format>)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser(
        "diagnose",
        help="alignment of each source after a few target evaluations, and each warm "
        "start's probability of ending worse than cold-gp",
    )
    s.add_argument("pair", nargs="?", help="a pair (or give --sources and --target)")
    s.add_argument(
        "--evaluations", type=_count, metavar="N", help="points of the pair's initial design (10)"
    )
    s.add_argument("--seed", type=_count, default=0, help="the run seed whose design is scored")
    s.add_argument("--n-source", type=_count, help="points per source (default 32)")
    s.add_argument("--sources", metavar="S.csv", help="source table: inputs, y[, source]")
    s.add_argument("--target", metavar="T.csv", help="target evaluations: inputs, y")
    s.set_defaults(func=cmd_diagnose)
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line (``argv``: the arguments; None: ``sys.argv``, as the
    ``bo-transfer`` program). SIGTERM is answered from the first moment, as
    Ctrl-C (a kill before the handler was set ended the process with no line);
    once interrupted, further signals are ignored, so the exit code is the one
    the printed line names. Called with ``argv``, the caller's handlers are
    restored on return."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        signal.signal(signal.SIGTERM, _terminate)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        code = _main(argv)
    if in_main_thread and (argv is not None or code not in (EXIT_INTERRUPTED, EXIT_TERMINATED)):
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return code


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our own warnings (e.g. ``BelowOptimumWarning``) as one line on stderr;
    any other keeps Python's format."""
    if category.__module__.startswith("bo_transfer"):
        print(f"bo-transfer: warning: {message}", file=file or sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def _main(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UserError as exc:
        print(f"bo-transfer: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
        # A sweep's interruption (driver.SweepInterrupted) carries its summary
        # and the signal's exception; one at any other moment carries neither.
        cause = getattr(exc, "cause", exc)
        summary = getattr(exc, "summary", None)
        terminated = isinstance(cause, Terminated)
        line = "terminated" if terminated else "interrupted"
        if summary is not None:
            line += f": {summary.brief()}; finished runs are stored, the same command resumes"
        print(f"bo-transfer: {line}", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except Exception as exc:  # a bug of ours: one line, the traceback in a log
        print(f"bo-transfer: internal error: {_crash_report(exc, argv)}", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _crash_report(exc: Exception, argv: list[str] | None) -> str:
    """Write ``exc``'s traceback to a log file; the line that points to it."""
    from bo_transfer.sweep.outcome import error_line, full_traceback
    from bo_transfer.sweep.store import provenance

    line = error_line(exc)
    name = f"bo-transfer-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    log = Path(tempfile.gettempdir()) / name
    command = " ".join(["bo-transfer", *(sys.argv[1:] if argv is None else argv)])
    try:
        log.write_text(f"{command}\n{json.dumps(provenance())}\n\n{full_traceback(exc)}")
    except OSError as write_error:
        return f"{line} (no log: {write_error.strerror}); please report it"
    return f"{line}; the traceback is in {log}; please report it"


if __name__ == "__main__":
    sys.exit(main())
