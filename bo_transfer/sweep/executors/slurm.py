"""The Slurm executor: tasks as a Slurm job array, through submitit."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from bo_transfer.errors import UserError
from bo_transfer.sweep.executors.threads import set_single_thread
from bo_transfer.sweep.plan import Task, run_task
from bo_transfer.sweep.runner import RunResult


def run_chunk(tasks: Sequence[Task]) -> list[RunResult]:
    """Run several tasks in one process (one Slurm array task)."""
    set_single_thread()
    return [result for task in tasks for result in run_task(task)]


class SlurmExecutor:
    """Slurm through submitit: tasks are grouped into chunks of about
    ``chunk_size`` runs, one per array task (clusters discourage floods of tiny
    jobs); a task is never split. ``cluster="local"`` uses submitit's local
    executor (subprocesses). Results travel back through ``folder`` (a file
    system the cluster shares).
    """

    def __init__(
        self,
        folder: str | Path,
        partition: str | None = None,
        time_min: int = 60,
        array_parallelism: int = 64,
        chunk_size: int = 10,
        cluster: str | None = None,
    ) -> None:
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise UserError("--slurm needs submitit: pip install 'bo_transfer[slurm]'") from None
        if chunk_size < 1 or array_parallelism < 1 or time_min < 1:
            raise UserError("--slurm-chunk, --slurm-parallelism and --slurm-time must be >= 1")
        self.folder = Path(folder)
        self.partition = partition
        self.time_min = time_min
        self.array_parallelism = array_parallelism
        self.chunk_size = chunk_size
        self.cluster = cluster

    def describe(self) -> str:
        return f"slurm via submitit ({self.cluster or 'slurm'}, {self.chunk_size} runs per task)"

    def run(self, tasks: Sequence[Task]) -> Iterator[RunResult]:
        import submitit
        from submitit.helpers import as_completed as jobs_completed

        executor = submitit.AutoExecutor(folder=self.folder, cluster=self.cluster)
        params = {"timeout_min": self.time_min, "cpus_per_task": 1}
        if executor.cluster == "slurm":
            params["slurm_array_parallelism"] = self.array_parallelism
            if self.partition:
                params["slurm_partition"] = self.partition
        executor.update_parameters(**params)
        chunks: list[list[Task]] = []
        for task in tasks:
            if not chunks or sum(len(t) for t in chunks[-1]) >= self.chunk_size:
                chunks.append([])
            chunks[-1].append(task)
        if not chunks:
            return
        jobs = executor.map_array(run_chunk, chunks)
        by_job = {job.job_id: chunk for job, chunk in zip(jobs, chunks)}
        for job in jobs_completed(jobs, poll_frequency=1):
            try:
                yield from job.result()
            except Exception as exc:
                for task in by_job[job.job_id]:
                    for spec in task.runs:
                        yield RunResult.lost(spec, f"slurm job {job.job_id} failed", exc)
