import pytest

from compiler.errors import UserError
from nas.runtime import InProcessExecutor, MutationSearch, PoolExecutor, TrialStore, make_executor, run_study
from nas.runtime.toy import TOY_OBJECTIVES, TOY_SPACE, ToyObjective, spin

ITEMS = [1000 * k for k in range(23)]
EXPECTED = [spin(n) for n in ITEMS]


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'ovl-toolchain[ray]'")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    if started:
        ray.shutdown()


def _search(tmp_path, name, executor):
    strategy = MutationSearch(TOY_SPACE, metric="loss", n_random=10, batch_size=10)
    return run_study(tmp_path / f"{name}.db", name, strategy, ToyObjective(fail_act="gelu"), n_trials=70, seed=11,
                     objectives=TOY_OBJECTIVES, executor=executor, quiet=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return _search(tmp_path_factory.mktemp("ref"), "inprocess", InProcessExecutor())


def _assert_identical(res, ref):
    assert len(res.trials) == len(ref.trials) == 70
    assert all(a.same_result(b) for a, b in zip(res.trials, ref.trials))
    assert {t.status for t in ref.trials} == {"complete", "failed"}


@pytest.mark.parametrize("chunksize", [None, 1, 5, 100])
def test_in_process_and_pool_map_keep_item_order(chunksize):
    assert list(InProcessExecutor().map(spin, ITEMS, chunksize=chunksize)) == EXPECTED
    with PoolExecutor(2) as ex:
        assert list(ex.map(spin, ITEMS, chunksize=chunksize)) == EXPECTED
        pairs = list(ex.map_unordered(spin, ITEMS, chunksize=chunksize))
        assert sorted(pos for pos, _ in pairs) == list(range(len(ITEMS)))
        assert all(EXPECTED[pos] == r for pos, r in pairs)


def test_same_search_on_a_process_pool_gives_identical_results(tmp_path, reference):
    with make_executor("pool", workers=2) as ex:
        res = _search(tmp_path, "pool", ex)
    _assert_identical(res, reference)
    with TrialStore(tmp_path / "pool.db", readonly=True) as st:
        assert all(a.same_result(b) for a, b in zip(st.trials(st.study("pool")), reference.trials))


@pytest.mark.xdist_group("ray")
def test_same_search_on_local_ray_gives_identical_results(tmp_path, reference, ray_session):
    with make_executor("ray") as ex:
        assert ex.workers == 2
        res = _search(tmp_path, "ray", ex)
        assert list(ex.map(spin, ITEMS, chunksize=4)) == EXPECTED
    assert ray_session.is_initialized(), "an executor must not shut down a Ray session it did not start"
    _assert_identical(res, reference)


@pytest.mark.xdist_group("ray")
def test_ray_runs_closures_and_reports_task_errors(ray_session):
    offset = 5
    with make_executor("ray") as ex:
        assert list(ex.map(lambda v: v + offset, range(10))) == list(range(5, 15))
        with pytest.raises(ZeroDivisionError):
            list(ex.map(lambda v: 1 / v, [1, 0]))


def test_pool_rejects_functions_it_cannot_send(tmp_path):
    with PoolExecutor(2) as ex, pytest.raises(UserError, match="cannot be sent to worker processes"):
        list(ex.map(lambda v: v, [1, 2]))


def test_executor_arguments_are_checked():
    with pytest.raises(UserError, match="executor 'gpu' is unknown; legal: inprocess, pool, ray"):
        make_executor("gpu")
    with pytest.raises(UserError, match="workers = -1"):
        PoolExecutor(-1)
    assert InProcessExecutor().default_chunksize(1000) == 1
    with PoolExecutor(2) as ex:
        assert ex.default_chunksize(10_000) == 256 and ex.default_chunksize(40) == 5


def test_sweep_returns_results_in_order_on_any_executor():
    from nas.runtime import sweep
    assert sweep(spin, ITEMS, quiet=True) == EXPECTED
    with PoolExecutor(2) as ex:
        assert sweep(spin, ITEMS, executor=ex, desc="spin", chunksize=3) == EXPECTED


class CountingLoads:
    """Counts, in each worker process, how often an instance was unpickled there."""

    loads = 0

    def __init__(self, n=1000):
        self.weights = list(range(n))   # stands for a model an objective carries

    def __setstate__(self, state):
        self.__dict__.update(state)
        type(self).loads += 1

    def __call__(self, item):
        import os
        return os.getpid(), type(self).loads


def test_pool_workers_unpickle_the_function_once_per_sweep():
    with PoolExecutor(2) as ex:
        out = list(ex.map(CountingLoads(), range(40), chunksize=2))      # 20 chunks
        assert {loads for _, loads in out} == {1}
        same = list(ex.map(CountingLoads(), range(40), chunksize=2))     # equal pickle: reused
        assert {loads for _, loads in same} == {1}
        other = list(ex.map(CountingLoads(50_000), range(40), chunksize=2))   # another, big (sent as a file)
        before: dict[int, int] = {}  # loads per worker after the first two sweeps (a worker may miss the first)
        for pid, loads in out + same:
            before[pid] = max(before.get(pid, 0), loads)
        assert all(loads == before.get(pid, 0) + 1 for pid, loads in other)


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self"), reason="finds the worker processes in /proc")
def test_pool_workers_exit_when_the_search_is_killed(tmp_path):
    """A process that runs a PoolExecutor and is killed (SIGTERM: no clean-up runs) leaves no worker behind."""
    import signal
    import sys

    from process_tree import interrupt

    script = tmp_path / "slow_sweep.py"
    script.write_text("import time\n"
                      "from nas.runtime import PoolExecutor\n\n"
                      "def slow(x):\n    time.sleep(0.5)\n    return x\n\n"
                      "if __name__ == '__main__':\n"
                      "    for _ in PoolExecutor(2).map(slow, list(range(1000)), chunksize=1):\n        pass\n")
    rc, left = interrupt([sys.executable, str(script)], signal.SIGTERM, min_procs=3, cwd=tmp_path)
    assert rc == -signal.SIGTERM and not left
