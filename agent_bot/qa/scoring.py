"""Listening and no-reference scoring of finished calls, in a pool of worker processes.

Scoring is CPU work (about half a second of CPU per 10 s of audio per scorer on this
machine): it runs in a `ProcessPoolExecutor` of spawned processes, each at a lower priority
(nice +10) with one thread for BLAS, numba and onnxruntime, so live calls' audio is never
delayed by it. A run's scoring finishes after its calls end. The network score (E-model) is
cheap and computed in the caller (`emodel.network_score`).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from agent_bot.media.frames import Pcm
from agent_bot.qa import listening, noreference
from agent_bot.qa.score import Score, unscored

logger = logging.getLogger(__name__)

SCORERS: dict[str, Score] = {
    "listening": listening.TEMPLATE,
    "dnsmos": noreference.DNSMOS,
    "plcmos": noreference.PLC,
}
"""Scorer names (as `--scoring` lists them) and what each produces."""
WORKER_NICE = 10
PARENT_CHECK_SECONDS = 1.0
"""How often a scoring worker looks whether the bot that started it is still there."""
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS")  # fmt: skip


@dataclass(frozen=True)
class ScoringJob:
    """One call's audio to score: capture-aligned PCM and the delay between them."""

    call_id: str
    scorers: tuple[str, ...]
    received: Pcm
    reference: Pcm | None = None
    delay_ms: float | None = None


def score(job: ScoringJob) -> tuple[Score, ...]:
    """Run every scorer of `job` (in a worker); a scorer that fails gives None with why."""
    scores = []
    for name in job.scorers:
        template = SCORERS[name]
        try:
            scores.append(_run(name, job))
        except Exception as exc:
            logger.exception("call=%s scorer %s failed", job.call_id, name)
            scores.append(unscored(template, f"scorer failed: {type(exc).__name__}: {exc}"))
    return tuple(scores)


def _run(name: str, job: ScoringJob) -> Score:
    if name == "listening":
        if job.reference is None:
            return unscored(listening.TEMPLATE, "no reference")
        return listening.score(job.reference, job.received, job.delay_ms)
    run: Callable[[Pcm], Score] = noreference.dnsmos if name == "dnsmos" else noreference.plcmos
    return run(job.received)


def _init_worker(parent: int) -> None:
    """Lower priority and single-threaded libraries, before any of them is imported; the
    worker goes when the bot (`parent`, its pid) does: a SIGKILLed bot left its idle workers
    behind, and so did a bot that exited while its worker was still starting."""
    os.nice(WORKER_NICE)
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    for variable in _THREAD_VARIABLES:
        os.environ[variable] = "1"
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    threadpool_limits(1)  # numpy is loaded already (the main module was re-imported)


def _exit_with(parent: int) -> None:
    """Ends this worker once `parent` is gone (it is then re-parented)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


class ScoringPool:
    """Scores calls in `workers` spawned processes, started on the first job."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    async def score(self, job: ScoringJob) -> tuple[Score, ...]:
        if not job.scorers:
            return ()
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(os.getpid(),),
            )  # fmt: skip
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, score, job)
        except Exception as exc:  # a worker died (BrokenProcessPool), or pickling failed
            logger.error("call=%s scoring failed: %s: %s", job.call_id, type(exc).__name__, exc)
            reason = f"scoring worker failed: {type(exc).__name__}"
            return tuple(unscored(SCORERS[name], reason) for name in job.scorers)

    def close(self) -> None:
        """Wait for the jobs in progress, then stop the workers."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
