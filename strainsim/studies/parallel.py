"""Where replicates run: here, in local worker processes, or on dask.distributed.

A *mapper* is ``mapper(function, argument_tuples)`` returning the results in
input order; the argument tuples may come from a generator, and only a few jobs
per worker are in flight at any time, so memory stays bounded. Every job carries its own seed, so all mappers give
bit-identical numbers.

numba and Dask: each Dask worker (and each worker process) runs its jobs with
one numba thread, so that ``workers x threads`` does not oversubscribe the
cores.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

__all__ = ["make_mapper"]


def _start_worker(niceness: int = 0):
    # worker processes leave Ctrl-C to the main process, which shuts them down; a
    # positive niceness makes them yield the CPU to the main process
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if niceness > 0:
        os.nice(niceness)


def _in_order(submit, arglist, limit):
    """Results of ``submit(args)`` for each ``args``, in order, with at most ``limit`` jobs
    submitted and not yet collected: memory stays bounded however many jobs there are
    (``arglist`` may be a generator)."""
    from collections import deque

    pending = deque()
    for args in arglist:
        pending.append(submit(args))
        if len(pending) >= limit:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _quiet_cancelled_jobs():
    import threading
    from concurrent.futures import InvalidStateError

    previous = threading.excepthook

    def hook(args):
        if not isinstance(args.exc_value, InvalidStateError):
            previous(args)

    threading.excepthook = hook


def _call(fn_and_args):
    fn, args = fn_and_args
    return fn(*args, numba_threads=1)


def _warm_up():
    # import the pipeline and load its numba kernels from the cache, so that a new
    # worker is ready by the time the first real job arrives
    import numba

    from strainsim.studies.specs import TrialSpec
    from strainsim.studies.trials import simulate_trial

    numba.set_num_threads(1)
    simulate_trial(TrialSpec(name="warm-up", n_image_guided=2, n_control=2), 0)


@contextmanager
def _single_threaded_libraries():
    # workers started meanwhile inherit the environment: one BLAS/OpenMP thread each,
    # so that idle library thread pools do not compete with the other workers
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.setdefault(name, "1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def make_mapper(workers: int = 1, scheduler: str | None = None, *, niceness: int = 0):
    """Context manager yielding a mapper.

    Parameters
    ----------
    workers : int
        Worker processes (1 = run in this process, with numba's threads).
    niceness : int
        Added to the worker processes' niceness (``os.nice``; 0 leaves it): a server
        whose main process answers people runs its background simulation this way.
    scheduler : str, optional
        ``"local-cluster"`` starts a dask.distributed LocalCluster with
        ``workers`` single-threaded workers; any other string is the address
        of a running scheduler (``tcp://host:8786``).
    """
    if scheduler:
        from strainsim.errors import InputError

        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - depends on the install
            raise InputError("option --scheduler", None, "dask.distributed installed "
                             "(pip install 'strainsim[dask]')", "it is missing") from None
        cluster = None
        if scheduler == "local-cluster":
            with _single_threaded_libraries():
                cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1,
                                       processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, ValueError, TypeError) as exc:
                raise InputError("option --scheduler", None,
                                 "'local-cluster' or the address of a running Dask scheduler",
                                 f"{scheduler!r} ({type(exc).__name__})") from None
        try:
            in_flight = 4 * max(1, len(client.scheduler_info().get("workers", {})) or workers)

            def mapper(fn, arglist):
                return _in_order(lambda args: client.submit(_call, (fn, args), pure=False),
                                 arglist, in_flight)
            yield mapper
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if workers <= 1:
        def mapper(fn, arglist):
            return (fn(*args) for args in arglist)
        yield mapper
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = min(workers, os.cpu_count() or 1)
    # spawn, not fork: numba's OpenMP threading layer does not survive a fork
    context = multiprocessing.get_context("spawn")
    with _single_threaded_libraries(), ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_start_worker,
            initargs=(int(niceness),)) as pool:
        for _ in range(workers):  # start the workers now, in parallel with the caller
            pool.submit(_warm_up)

        def mapper(fn, arglist):
            # one job per message: callers make jobs big enough (a chunk of patients, a
            # batch of replicates) that sending them costs little, and no worker is
            # left with a long last message while the others idle
            return _in_order(lambda args: pool.submit(_call, (fn, args)), arglist,
                             4 * workers)

        try:
            yield mapper
        except BaseException:  # an error, Ctrl-C or SIGTERM: no worker is left behind
            # The pool notices its workers are gone and fails their jobs; when the jobs
            # were already cancelled, Python 3.11's pool thread reports that as an
            # InvalidStateError, which says nothing to a user here.
            _quiet_cancelled_jobs()
            for child in multiprocessing.active_children():
                child.terminate()
            raise
