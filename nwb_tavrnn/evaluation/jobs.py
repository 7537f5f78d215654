"""The evaluation's model trainings as jobs (learned baselines, time-shuffle refits), and the
process pool that runs them together.

A job is ``(name, function, kwargs)``: picklable, so it can run in a spawned worker process. Every
training runs on one torch thread, in a worker or not, so results do not depend on the number of
cores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from .features import shuffle_pieces
from .settings import MIN_SHUFFLE_BINS, EvaluationConfig

log = logging.getLogger(__name__)

#: ``(name, function, kwargs)``: ``function(**kwargs)`` trains a model and returns its node embeddings.
Job = tuple[str, Callable[..., Any], dict]


def time_shuffle_jobs(trains: Any, conn: Any, prov: Any, cfg: EvaluationConfig) -> list[Job]:
    """The time-shuffle refits as jobs: shuffle every spike train in time (within window pieces or
    over the whole recording), recompute the graphs with the same parameters and windows, and refit
    the model exactly as the model step did (same features, history row, training settings)."""
    from ..connectivity import ConnectivityParams
    from .baselines import null_embeddings

    stored = conn.parameters_dict
    known = set(ConnectivityParams.__dataclass_fields__)
    params = ConnectivityParams.from_dict({k: v for k, v in stored.items() if k in known})
    windows = (np.asarray(conn.window_start_times[:]), np.asarray(conn.window_stop_times[:]))
    boundaries = None
    if cfg.time_shuffle_mode == "within_windows":
        boundaries = np.concatenate(windows)
        pieces = np.diff(shuffle_pieces(trains.t_start, trains.t_stop, boundaries))
        if pieces.size and pieces.min() < MIN_SHUFFLE_BINS * params.bin_size:
            log.warning("the shortest piece between window edges is %.3g s (< %d bins): the within-window "
                        "shuffle keeps coordination at that scale; consider time_shuffle_mode='whole_recording'",
                        pieces.min(), MIN_SHUFFLE_BINS)
    job = {"trains": trains, "params": params, "windows": windows, "model_name": prov.model_name,
           "hyperparameters": prov.hyperparameters_dict, "epochs": cfg.baseline_epochs, "boundaries": boundaries,
           "with_correlation": conn.correlation is not None}
    return [(f"time_shuffle[{rep}]", null_embeddings, {**job, "seed": cfg.seed + 1000 + rep})
            for rep in range(cfg.time_shuffle_repeats)]


def run_jobs(jobs: list[Job], n_jobs: int | None,
             done: Callable[[str], None] = lambda what: None) -> dict[str, Any]:
    """Run the model trainings of the evaluation (learned baselines, time-shuffle refits): in
    parallel processes when there are cores for it, else one by one; each on one torch thread
    either way, so the results do not depend on the number of cores. ``done(what)`` is called as
    each finishes (progress)."""
    import multiprocessing
    import os

    from .baselines import in_worker

    if not jobs:
        return {}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(len(jobs), n_jobs if n_jobs is not None else cores)
    if multiprocessing.current_process().daemon:  # e.g. a Dask worker process: it may not start children
        workers = 1
    out: dict[str, Any] = {}
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        log.info("evaluation: %d model trainings (%s) in %d processes", len(jobs), ", ".join(j[0] for j in jobs),
                 workers)
        level = logging.getLogger("nwb_tavrnn.models.training").getEffectiveLevel()
        # spawn, not fork: a forked child of a process that already ran torch/OpenMP threads can hang
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            futures = {pool.submit(in_worker, function, kwargs, 1, level): name for name, function, kwargs in jobs}
            for future in as_completed(futures):
                out[futures[future]], seconds = future.result()
                done(f"{futures[future]} trained in {seconds:.0f} s")
        except BrokenProcessPool:
            # e.g. a script without an ``if __name__ == "__main__":`` guard: spawned workers cannot start
            log.warning("worker processes could not run (a script needs an 'if __name__ == \"__main__\":' guard "
                        "for them); training the remaining evaluation models one by one")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # an error stops the queue instead of waiting for it
    for name, function, kwargs in jobs:
        if name not in out:
            out[name], seconds = in_worker(function, kwargs, 1)
            done(f"{name} trained in {seconds:.0f} s")
    return out


__all__ = ["Job", "run_jobs", "time_shuffle_jobs"]
