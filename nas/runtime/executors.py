"""Evaluation executors behind one interface: in-process, local process pool, Ray.

An executor applies a function to a sequence of items, in chunks (many cheap evaluations per round trip), and
yields results either in order (`map`) or as chunks complete, tagged with their position (`map_unordered`).
Results never depend on the executor: whatever randomness an evaluation needs must come from its item (the
study loop hands each trial its own seed). `fn` must be picklable for the pool (a module-level function or an
instance of a module-level class); Ray also accepts closures (cloudpickle).

    with make_executor("pool", workers=4) as ex:
        latencies = list(ex.map(estimate_latency, candidates))
        table = sweep(estimate_latency, candidates, executor=ex, desc="latency table")   # with a progress bar
"""
from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
import pickle
import tempfile
from abc import ABC, abstractmethod
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Sequence, TypeVar

from compiler.errors import UserError
from nas.runtime.progress import progress

T = TypeVar("T")
R = TypeVar("R")
ExecutorKind = Literal["inprocess", "pool", "ray"]
EXECUTOR_KINDS: tuple[str, ...] = ("inprocess", "pool", "ray")


def exit_with_parent() -> None:
    """Call in a worker process: it exits as soon as the process that started it is gone. A search killed by
    SIGTERM (or SIGKILL) does not stop its pool's workers, which would otherwise wait for work forever; a daemon
    thread waits on the parent's sentinel (`multiprocessing.parent_process()`, also under forkserver)."""
    import threading

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def apply_chunk(fn: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    """Evaluate one chunk where it lands (a worker process or a Ray task)."""
    return [fn(item) for item in chunk]


# In a worker process: the function of the current sweep, unpickled once however many chunks it runs (an
# objective may hold a model or a data set). Only the latest function is kept.
_WORKER_FN: dict[bytes, Callable] = {}


def apply_pickled_chunk(digest: bytes, blob: bytes | str, chunk: Sequence[T]) -> list:
    """`blob` is the pickled function, or the path of a file holding it (large functions, local pool)."""
    fn = _WORKER_FN.get(digest)
    if fn is None:
        _WORKER_FN.clear()
        data = blob if isinstance(blob, bytes) else Path(blob).read_bytes()
        fn = _WORKER_FN[digest] = pickle.loads(data)
    return apply_chunk(fn, chunk)


def _pickled(fn: Callable, dumps: Callable[[Any], bytes]) -> tuple[bytes, bytes]:
    blob = dumps(fn)
    return hashlib.blake2b(blob, digest_size=16).digest(), blob


class Executor(ABC):
    """Applies `fn` to items in chunks; subclasses say where chunks run. Use as a context manager."""

    kind: str = ""
    workers: int = 1
    chunksize: int | None = None   # items per chunk; None: `default_chunksize`

    @abstractmethod
    def _run_chunks(self, fn: Callable[[T], R], chunks: list[list[T]]) -> Iterator[tuple[int, list[R]]]:
        """Yield (chunk number, results) as chunks complete."""

    def default_chunksize(self, n: int) -> int:
        # about four chunks per worker keeps every worker busy to the end without per-item round trips
        return max(1, min(256, math.ceil(n / (4 * self.workers))))

    def map_chunks(self, fn: Callable[[T], R], items: Sequence[T], *,
                   chunksize: int | None = None) -> Iterator[list[tuple[int, R]]]:
        """Each completed chunk as a list of (position, result), chunks in completion order."""
        items = list(items)
        if not items:
            return
        size = chunksize or self.chunksize or self.default_chunksize(len(items))
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        for c, results in self._run_chunks(fn, chunks):
            yield [(c * size + k, r) for k, r in enumerate(results)]

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T], *,
                      chunksize: int | None = None) -> Iterator[tuple[int, R]]:
        """(position, result) pairs as chunks complete; within a chunk in position order."""
        for chunk in self.map_chunks(fn, items, chunksize=chunksize):
            yield from chunk

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, chunksize: int | None = None) -> Iterator[R]:
        """Results in item order, each yielded as soon as it and all before it are done."""
        pending: dict[int, R] = {}
        nxt = 0
        for pos, r in self.map_unordered(fn, items, chunksize=chunksize):
            pending[pos] = r
            while nxt in pending:
                yield pending.pop(nxt)
                nxt += 1

    def close(self) -> None:
        """Release workers (idempotent)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Evaluates in the calling process, by default one item per chunk (a study writes every trial as it is
    done; a larger `chunksize` groups writes, for very cheap evaluations)."""

    kind = "inprocess"

    def __init__(self, *, chunksize: int | None = None):
        self.chunksize = chunksize

    def default_chunksize(self, n: int) -> int:
        return 1

    def _run_chunks(self, fn, chunks):
        for c, chunk in enumerate(chunks):
            yield c, apply_chunk(fn, chunk)


class PoolExecutor(Executor):
    """A local process pool of `workers` processes (default: all CPUs), kept for the executor's lifetime.

    `start_method` defaults to "forkserver" where available: forking a process that already runs threads (torch,
    BLAS) can deadlock, and forkserver children start from a clean single-threaded server.
    """

    kind = "pool"
    INLINE_BYTES = 1 << 16

    def __init__(self, workers: int | None = None, *, start_method: str | None = None,
                 chunksize: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self.chunksize = chunksize
        if self.workers < 1:
            raise UserError(f"workers = {self.workers}: give 1 or more worker processes")
        methods = multiprocessing.get_all_start_methods()
        method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
        if method not in methods:
            raise UserError(f"start method '{method}' is not available here; legal: {', '.join(methods)}")
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method),
                                         initializer=exit_with_parent)

    def _run_chunks(self, fn, chunks):
        try:
            digest, blob = _pickled(fn, pickle.dumps)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise UserError(f"function {getattr(fn, '__qualname__', fn)!r} cannot be sent to worker processes "
                            f"({exc}); define it at module level, or use the in-process or ray executor") from None
        window = 2 * self.workers
        todo = deque(enumerate(chunks))
        running: dict[Future, int] = {}
        with tempfile.TemporaryDirectory(prefix="ovl-pool-") as tmp:
            ref: bytes | str = blob
            if len(blob) > self.INLINE_BYTES and len(chunks) > 1:  # a big function is read from a file, once per worker
                ref = str(Path(tmp) / "fn.pkl")
                Path(ref).write_bytes(blob)
            try:
                while todo or running:
                    while todo and len(running) < window:
                        c, chunk = todo.popleft()
                        running[self._pool.submit(apply_pickled_chunk, digest, ref, chunk)] = c
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in sorted(done, key=running.__getitem__):
                        yield running.pop(fut), fut.result()
            finally:
                for fut in running:
                    fut.cancel()
                wait(running)  # no worker may still read the file when it is removed

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor(Executor):
    """Ray tasks, one per chunk. Connects to `address` (a running cluster, e.g. "ray://head:10001" or "auto"),
    or starts a local instance with `workers` CPUs when Ray is not initialised yet; a Ray session that was already
    initialised by the caller is used as is and left running on `close()`.
    """

    kind = "ray"

    def __init__(self, workers: int | None = None, *, address: str | None = None, chunksize: int | None = None):
        self.chunksize = chunksize
        try:
            import ray
        except ImportError:
            raise UserError("executor 'ray' needs Ray: pip install 'ovl-toolchain[ray]' (or 'ray>=2.9')") from None
        self._ray = ray
        self._owner = not ray.is_initialized()
        if self._owner:
            try:
                ray.init(address=address, num_cpus=workers if address is None else None, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise UserError(f"cannot start or reach Ray at {address or 'a local instance'} ({exc}); "
                                "check --address or start the cluster with 'ray start --head'") from None
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(apply_pickled_chunk)

    def _run_chunks(self, fn, chunks):
        ray = self._ray
        from ray import cloudpickle  # closures and lambdas too
        digest, blob = _pickled(fn, cloudpickle.dumps)
        blob_ref = ray.put(blob)
        window = 2 * self.workers
        todo = deque(enumerate(chunks))
        running: dict[Any, int] = {}
        try:
            while todo or running:
                while todo and len(running) < window:
                    c, chunk = todo.popleft()
                    running[self._remote.remote(digest, blob_ref, chunk)] = c
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    yield running.pop(ref), ray.get(ref)
        finally:
            for ref in running:
                ray.cancel(ref)

    def close(self) -> None:
        if self._owner and self._ray.is_initialized():
            self._ray.shutdown()
        self._owner = False


def make_executor(kind: ExecutorKind = "inprocess", *, workers: int | None = None, address: str | None = None,
                  chunksize: int | None = None) -> Executor:
    """An executor by name: "inprocess", "pool" (`workers` processes) or "ray" (`address`, or a local instance)."""
    if kind == "inprocess":
        return InProcessExecutor(chunksize=chunksize)
    if kind == "pool":
        return PoolExecutor(workers, chunksize=chunksize)
    if kind == "ray":
        return RayExecutor(workers, address=address, chunksize=chunksize)
    raise UserError(f"executor '{kind}' is unknown; legal: {', '.join(EXECUTOR_KINDS)}")


def sweep(fn: Callable[[T], R], items: Sequence[T], *, executor: Executor | None = None, desc: str = "sweep",
          quiet: bool = False, chunksize: int | None = None) -> list[R]:
    """`[fn(x) for x in items]` on `executor` (default in-process) with a progress bar; results in item order."""
    items = list(items)
    ex = executor or InProcessExecutor()
    out: list[R | None] = [None] * len(items)
    with progress(total=len(items), desc=desc, quiet=quiet) as bar:
        for chunk in ex.map_chunks(fn, items, chunksize=chunksize):
            for pos, r in chunk:
                out[pos] = r
            bar.update(len(chunk))
    return out  # type: ignore[return-value]
