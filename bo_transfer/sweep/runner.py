"""``run_one``: one deterministic BO run of a method on a pair."""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import gpytorch
import torch

from bo_transfer.methods.alignment import AlignmentTrace
from bo_transfer.methods.base import NUMERICAL_FAILURES, Method, make_method
from bo_transfer.problems.base import DTYPE, BelowOptimumWarning, sobol
from bo_transfer.problems.pair import get_pair
from bo_transfer.reproducibility import math_library
from bo_transfer.seeding import derive_seed
from bo_transfer.sweep.outcome import (
    DONE,
    FAILED,
    LOST,
    MAX_LINE,
    count_warnings,
    error_line,
    fails_the_run,
    full_traceback,
    recording_warnings,
)
from bo_transfer.sweep.pool import COUNTERS, CandidatePool
from bo_transfer.sweep.protocol import METADATA_KEY, run_protocol

#: Two points closer than this (max-norm) count as the same point.
DUPLICATE_TOL = 1e-9

#: GPyTorch may switch from Cholesky to approximate CG / stochastic Lanczos
#: solves above ``max_cholesky_size`` (800 by default); multi-task models with
#: several sources pass that easily, and randomized solves would make results
#: depend on the global RNG. Runs keep exact solves up to this size. (With
#: GPyTorch 1.15 a dense 1,000-point SingleTaskGP was seen to stay exact even
#: at the default; the setting guards the structured multi-task kernels.)
EXACT_SOLVE_MAX = 5000


def default_label(method: str, options: dict[str, Any]) -> str:
    """The label a spec gives a method entry listed more than once without a
    label: ``name[k=v,...]`` (the name alone when it has no options)."""
    if not options:
        return method
    return f"{method}[{','.join(f'{k}={v}' for k, v in sorted(options.items()))}]"


def key_label(method: str, options: dict[str, Any], label: str) -> str:
    """``label`` as the run key sees it: "" for a label the spec derives by
    itself (the method's name or :func:`default_label`), which adds nothing the
    method and options don't already say."""
    return "" if label in ("", method, default_label(method, options)) else label


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a run. Plain data: it crosses process boundaries."""

    pair: str  # canonical pair name
    method: str  # registered method name
    seed: int
    budget: int
    n_init: int
    n_source: int
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # how the method is shown in tables; defaults to its name
    source_design: str = "sobol"  # "sobol" or "trajectory" (see TransferPair.source_data)
    source_noise: float = 0.0  # source noise std as a fraction of the source's range
    # A hash of the user data the pair reads (a table, HPO-B's files; ""
    # for pairs defined by code): see bo_transfer.problems.families.pair_data.
    data: str = ""

    @classmethod
    def from_stored(cls, entry: str) -> RunSpec:
        """A run spec from its stored JSON. Fields added since it was stored
        take their defaults; fields a run spec no longer has (an older
        release's ``seed_batch``) said how a run was executed and are ignored."""
        stored = json.loads(entry)
        return cls(**{k: v for k, v in stored.items() if k in cls.__dataclass_fields__})

    @property
    def method_label(self) -> str:
        return self.label or self.method

    @property
    def key(self) -> str:
        """Hash of (pair, method + options + label, seed, budget, n_init,
        n_source, source options).

        The label is in the key so that two spec entries never share stored
        results: the same method and options under two labels are two sets of
        runs over the same initial design and source data (both derive from
        pair and seed) with different random streams (those derive from the
        key), i.e. an A/A test. A label the spec derives by itself (the
        method's name, or ``name[k=v,...]`` for a repeated method with
        options; see :func:`default_label`) is left out, so entries without an
        explicit label keep the keys they had before labels were keyed; runs
        stored under an explicit label before then are run again.
        """
        fields: list[Any] = [
            self.pair,
            self.method,
            self.options,
            self.seed,
            self.budget,
            self.n_init,
            self.n_source,
        ]
        # Default source options leave the key as it was before they existed.
        if (self.source_design, self.source_noise) != ("sobol", 0.0):
            fields += [self.source_design, self.source_noise]
        # How a run is executed (worker, seed block, device) is not part of it:
        # a seed block computes each run's own numbers (see sweep/block.py).
        if key_label(self.method, self.options, self.label):
            fields += ["label", self.label]
        # Changed data is another run (pairs without user data keep their keys).
        if self.data:
            fields += ["data", self.data]
        payload = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class RunResult:
    """The trace of one run: every evaluated point, its value and timing."""

    spec: RunSpec
    status: str  # DONE, FAILED or LOST (bo_transfer.sweep.outcome)
    X: list[list[float]] = field(default_factory=list)
    y: list[float] = field(default_factory=list)  # NaN where the objective failed
    elapsed_s: list[float] = field(default_factory=list)  # per iteration
    optimal_value: float = math.nan
    value_range: float = math.nan
    # The pair's first source (the contract columns); every source's diagnostics
    # are in ``metadata["source_diagnostics"]``.
    diagnostics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fail(self, exc: BaseException, what: str = "") -> RunResult:
        """Mark the run failed by ``exc`` (``what`` prefixes the stored line, e.g.
        ``"worker lost twice"``); returns ``self``."""
        self.status = FAILED
        self.error = error_line(exc, what)
        self.traceback = full_traceback(exc)
        return self

    @classmethod
    def lost(cls, spec: RunSpec, what: str, exc: BaseException) -> RunResult:
        """A failed result for a run whose worker (not the run itself) failed."""
        return cls(spec, status=FAILED).fail(exc, what)

    @classmethod
    def unfinished(cls, spec: RunSpec, why: str) -> RunResult:
        """A run the executor lost before it finished (``why`` says how, in one
        line): not stored, so the same command runs it again."""
        return cls(spec, status=LOST, error=why)


def run_one(spec: RunSpec, trace_alignment: bool = True) -> RunResult:
    """Run ``spec`` and return its trace; never raises.

    Randomness: the initial design and the run seed handed to the method derive
    from (pair, seed) alone, so every method on a pair and seed starts from the
    same design (common random numbers for the paired tests); each iteration's
    seed derives from (run key, iteration), and the global torch generator is
    reseeded from it inside a forked RNG state, so library code that draws from
    global state is deterministic too. A method never sees the pair's name or
    optimum.

    A pair named with ``instance=seed`` runs its instance ``spec.seed``
    (``metadata["pair_instance"]`` names the concrete pair, whose optimum,
    value range, diagnostics, source data and initial design the run uses).
    A value below the certified optimum by more than rounding is recorded in
    ``metadata["below_optimum"]`` and warned about once per run; the analysis
    then measures regret from the best value seen (see
    :func:`bo_transfer.analysis.regret.add_regret`).

    With ``trace_alignment`` (the default) the run also records, after each
    evaluation, how well each source model predicts the target values so far
    (``metadata["alignment"]``, see :class:`RunLoop`); it changes no proposal.
    """
    result = RunResult(spec, status=FAILED)
    t_run = time.perf_counter()
    with recording_warnings() as caught:
        try:
            with gpytorch.settings.max_cholesky_size(EXACT_SOLVE_MAX):
                _run(spec, result, trace_alignment)
            result.status = DONE
        except BaseException as exc:  # a failing run is recorded, never fatal to the sweep
            if not fails_the_run(exc):
                raise
            result.fail(exc)
    result.metadata["warnings"] = count_warnings(caught)
    result.timings["total_s"] = time.perf_counter() - t_run
    return result


def _run(spec: RunSpec, result: RunResult, trace_alignment: bool) -> None:
    loop = RunLoop(spec, result, trace_alignment)
    loop.start()
    for iteration in range(spec.n_init, spec.budget):
        started = time.perf_counter()
        seed = loop.iteration_seed(iteration)
        loop.accept(loop.propose(iteration, seed), seed, started)
    loop.finish()


def protocol_of(spec: RunSpec) -> dict[str, Any]:
    """The protocol fingerprint fields (:mod:`~bo_transfer.sweep.protocol`)
    a run of ``spec`` records, without running it: the pair instance, its
    source data and the protocol's initial design (evaluated, as a run's)."""
    result = RunResult(spec, status=FAILED)
    RunLoop(spec, result).start()
    return result.metadata[METADATA_KEY]


class RunLoop:
    """The steps of one run's BO loop, so that a block of seeds can run them in
    lock-step (:mod:`bo_transfer.sweep.block`); :func:`run_one` runs them in
    order. Every step records into ``result``; any exception fails the run.

    With ``trace_alignment``, after each evaluation the run records each
    source's alignment with the target values so far (Kendall's tau and the
    cosine of the standardized vectors of source-model means and target
    values: :class:`~bo_transfer.methods.alignment.AlignmentTrace`) in
    ``metadata["alignment"]``. Its source models are fitted after the method
    started and the design was evaluated, in a forked generator, on a fitter of
    their own (:func:`~bo_transfer.methods.alignment.source_posteriors`): the
    method's proposals, draws, timings and fault counters are those of a run
    without it. A failure of those fits (e.g. source data with NaN) leaves the
    run without a trace (``metadata["alignment_error"]``), never fails it.
    """

    def __init__(self, spec: RunSpec, result: RunResult, trace_alignment: bool = True) -> None:
        self.spec, self.result = spec, result
        self.trace_alignment = trace_alignment
        self.alignment: AlignmentTrace | None = None
        pair = self.pair = get_pair(spec.pair, spec.seed)
        result.optimal_value = pair.target.optimal_value
        result.value_range = pair.target.value_range
        result.diagnostics = dict(pair.diagnostics[0], n_sources=len(pair.sources))
        self.method = make_method(spec.method, spec.options)
        result.metadata.update(
            pair_instance=pair.name,
            source_diagnostics=pair.diagnostics,
            method=self.method.config(),
            repaired_proposals=0,
            nonfinite_values=0,
            sobol_fallbacks=0,
            source_design=spec.source_design,
            source_noise=spec.source_noise,
            # Where the numbers were computed: they are bit-identical only
            # on the same CPU, maths library, code path and thread count.
            math_library=math_library(),
        )
        # A tabular target: proposals are its rows not yet evaluated (see sweep.pool).
        self.pool = CandidatePool.for_target(pair.target, spec.seed)
        if self.pool is not None:
            result.metadata.update(dict.fromkeys(COUNTERS, 0))
            result.metadata["given_design"] = self.pool.design is not None
        self.X = torch.empty(0, pair.dim, dtype=DTYPE)
        self.y = torch.empty(0, dtype=DTYPE)

    def start(self) -> None:
        """Initial design, evaluated."""
        spec, pair = self.spec, self.pair
        # The concrete pair's name: an instance=seed run starts where the same
        # instance named explicitly would.
        run_seed = derive_seed("run", pair.name, spec.seed)
        sources = pair.source_data(spec.seed, spec.n_source, spec.source_design, spec.source_noise)
        started = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(spec.key, "start"))
            if self.pool is not None:
                self.pool.share(self.method)
            self.method.start(sources, pair.dim, run_seed)
            design = _check_points(
                self.method.initial_design(spec.n_init), spec.n_init, pair.dim, "initial design"
            )
            # The protocol's design for the seed, which a method may replace by its own.
            protocol_design = Method.initial_design(self.method, spec.n_init)
        self.result.metadata[METADATA_KEY] = run_protocol(
            spec,
            pair.name,
            pair.target.optimal_value,
            pair.target.value_range,
            sources,
            protocol_design,
            spec.data or None,  # the user data's content hash (tables, HPO-B)
        )
        if self.pool is not None:
            design = torch.cat(
                [
                    self.pool.admit(x, derive_seed(spec.key, "design", i), self.result.metadata)
                    for i, x in enumerate(design.split(1))
                ]
            )
        self._evaluate(design, started)
        if self.trace_alignment:
            self._start_alignment(sources)

    def _start_alignment(self, sources: list) -> None:
        try:
            self.alignment = AlignmentTrace(sources)
        except Exception as exc:  # a diagnostic: never fails the run it watches
            self.result.metadata["alignment_error"] = error_line(exc)[:MAX_LINE]
            return
        self.alignment.add(self.X, self.y)

    def iteration_seed(self, iteration: int) -> int:
        return derive_seed(self.spec.key, iteration)

    def imputed_y(self) -> torch.Tensor:
        """The values as the method sees them (see :func:`_impute`)."""
        return _impute(self.y, self.result)

    def propose(self, iteration: int, seed: int) -> torch.Tensor:
        """The method's own next point (`1 x dim`), or a Sobol point (a random
        remaining row of a tabular target) after a numerical failure."""
        result, dim = self.result, self.pair.dim
        if self.pool is not None and self.pool.exhausted:
            return self.pool.best()  # nothing left to choose from; accept pads
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                proposal = self.method.propose(self.X, self.imputed_y(), seed)
            except NUMERICAL_FAILURES as exc:
                # fit_gp already retried with jitter and kept what it could; a
                # failure that still escapes costs this iteration a Sobol point.
                # Any other exception fails the run: a bug is never silently
                # turned into random search.
                fallbacks = result.metadata["sobol_fallbacks"] = (
                    result.metadata["sobol_fallbacks"] + 1
                )
                result.metadata.setdefault("fallback_errors", []).append(
                    error_line(exc, f"iteration {iteration}")[:MAX_LINE]
                )
                proposal = (
                    self.pool.draw(seed)
                    if self.pool is not None
                    else sobol(fallbacks, dim, derive_seed(self.spec.key, "fallback"))[-1:]
                )
        return proposal

    def accept(self, x: torch.Tensor, seed: int, started: float) -> None:
        """Evaluate the `1 x dim` proposal ``x`` (redrawn if it repeats a point;
        on a tabular target, admitted by the pool); the iteration's time runs
        from ``started``."""
        x = _check_points(x, 1, self.pair.dim, "proposal")
        if self.pool is not None:
            x = self.pool.admit(x, seed, self.result.metadata)
        elif _is_duplicate(x, self.X):
            # Re-evaluating a noise-free point wastes budget; draw a fresh one instead.
            gen = torch.Generator().manual_seed(seed)
            x = torch.rand(1, self.pair.dim, generator=gen, dtype=DTYPE)
            self.result.metadata["repaired_proposals"] += 1
        self._evaluate(x, started)

    def finish(self) -> None:
        result, method = self.result, self.method
        result.timings.update(method.timings)
        for fault, n in method.fit_faults.items():
            result.metadata[f"fit_{fault}"] = n
        result.metadata["trace"] = method.trace  # per-iteration diagnostics, see Method.record
        if self.alignment is not None:
            result.metadata["alignment"] = self.alignment.record()

    def _evaluate(self, points: torch.Tensor, started: float) -> None:
        with torch.no_grad():
            values = self.pair.target(points)
        self.X, self.y = torch.cat([self.X, points]), torch.cat([self.y, values])
        if self.pool is not None:
            self.pool.share(self.method)
        per_point = (time.perf_counter() - started) / len(points)
        self.result.X.extend(points.tolist())
        self.result.y.extend(values.tolist())
        self.result.elapsed_s.extend([per_point] * len(points))
        if self.alignment is not None:
            self.alignment.add(points, values)
        finite = torch.isfinite(values)
        if finite.any():
            i = int(torch.where(finite, values, math.inf).argmin())
            if self.pair.target.below_optimum(float(values[i])):
                self._below_optimum(points[i], float(values[i]))

    def _below_optimum(self, x: torch.Tensor, value: float) -> None:
        """Record the lowest value seen below the certified optimum; warn the first time."""
        seen = self.result.metadata.get("below_optimum")
        if seen is None:
            warnings.warn(
                f"{self.pair.name}: evaluated {value:.10g}, below the certified optimum "
                f"{self.result.optimal_value:.10g}; the analysis uses the best value seen",
                BelowOptimumWarning,
                stacklevel=2,
            )
        if seen is None or value < seen["value"]:
            self.result.metadata["below_optimum"] = {
                "value": value,
                "x": x.tolist(),
                "certified": self.result.optimal_value,
            }


def _check_points(points: torch.Tensor, n: int, dim: int, what: str) -> torch.Tensor:
    points = torch.as_tensor(points, dtype=DTYPE).detach()
    if points.shape != (n, dim):
        raise ValueError(f"{what} has shape {tuple(points.shape)}, expected ({n}, {dim})")
    if not torch.isfinite(points).all() or points.min() < 0 or points.max() > 1:
        raise ValueError(f"{what} leaves the unit cube: {points.tolist()}")
    return points


def _is_duplicate(x: torch.Tensor, X: torch.Tensor) -> bool:
    return len(X) > 0 and bool(((X - x).abs().amax(-1) <= DUPLICATE_TOL).any())


def _impute(y: torch.Tensor, result: RunResult) -> torch.Tensor:
    """Non-finite objective values are shown to the method as the worst finite
    value observed so far (they stay NaN in the record)."""
    bad = ~torch.isfinite(y)
    result.metadata["nonfinite_values"] = int(bad.sum())
    if not bad.any():
        return y
    if bad.all():
        raise ValueError("the objective returned no finite value")
    return torch.where(bad, y[~bad].max(), y)
