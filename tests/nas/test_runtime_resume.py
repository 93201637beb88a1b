"""SIGKILL a running search at random points, resume it, and compare with an uninterrupted run."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np

from nas.runtime import InProcessExecutor, TrialStore, run_study
from nas.runtime.toy import TOY_OBJECTIVES, ToyObjective, toy_strategy

N_TRIALS = 120
SLEEP_MS = 4.0


def _cmd(store, workers):
    return [sys.executable, "-m", "nas.runtime.toy", "--store", str(store), "--study", "k", "--trials",
            str(N_TRIALS), "--strategy", "mutation", "--sleep-ms", str(SLEEP_MS), "--fail-act", "tanh", "--seed",
            "4", "--quiet", "--resume"] + (["--workers", str(workers)] if workers > 1 else [])


def _count(store):
    if not os.path.exists(store):
        return -1
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:  # schema not created yet
        return -1


def _run_until(store, workers, target, deadline):
    """Start the search; SIGKILL its whole process group once the store holds `target` trials.
    Returns the exit code (negative: killed)."""
    proc = subprocess.Popen(_cmd(store, workers), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        while proc.poll() is None and time.time() < deadline:
            if target is not None and _count(store) >= target:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
        rc = proc.wait(timeout=max(1.0, deadline - time.time()))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert rc in (0, -signal.SIGKILL), proc.stderr.read()
    return rc


def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_run(tmp_path):
    reference = run_study(tmp_path / "ref.db", "k", toy_strategy("mutation"), ToyObjective(SLEEP_MS, 0, "tanh"),
                          n_trials=N_TRIALS, objectives=TOY_OBJECTIVES, seed=4,
                          config={"toy": {"sleep_ms": SLEEP_MS, "spin": 0, "fail_act": "tanh"}},
                          executor=InProcessExecutor(), quiet=True)
    store = tmp_path / "killed.db"
    rng = np.random.default_rng(2024)
    targets = sorted(rng.choice(np.arange(1, N_TRIALS - 5), size=6, replace=False).tolist())
    deadline = time.time() + 120
    kills, counts = 0, []
    for k, target in enumerate(targets + [None]):
        workers = 2 if k % 3 == 2 else 1      # resumes alternate executors too: results must not depend on them
        rc = _run_until(store, workers, target, deadline)
        counts.append(_count(store))
        kills += rc != 0
        if rc == 0:
            break
    print("counts after each run", counts, "targets", targets)
    assert kills >= 4, f"too few kills landed mid-search: counts after each run {counts}"
    assert counts[-1] == N_TRIALS
    with TrialStore(store, readonly=True) as st:
        study = st.study("k")
        trials = st.trials(study)
        assert study.status == "finished"
    assert [t.index for t in trials] == list(range(N_TRIALS))
    assert all(a.same_result(b) for a, b in zip(trials, reference.trials))
    assert {t.status for t in trials} == {"complete", "failed"}
