import io
import sqlite3
import sys

import numpy as np
import pytest

from compiler.errors import UserError
from nas.runtime import (MutationSearch, RandomSearch, Strategy, StoreError, TrialStore, ask_rng, progress,
                         run_study, trial_seed)
from nas.runtime.strategy import Choice, FloatRange, IntRange, sample, space_from
from nas.runtime.toy import TOY_OBJECTIVES, TOY_SPACE, ToyObjective


def _mutation():
    return MutationSearch(TOY_SPACE, metric="loss", direction="min", n_random=6, batch_size=4)


def _rows(store_path, name):
    with TrialStore(store_path, readonly=True) as st:
        return st.trials(st.study(name))


def _same(a, b):
    return len(a) == len(b) and all(x.same_result(y) for x, y in zip(a, b))


def test_trials_hold_the_objective_of_their_candidate_and_seed(tmp_path):
    obj = ToyObjective()
    res = run_study(tmp_path / "s.db", "rs", RandomSearch(TOY_SPACE, batch_size=16), obj, n_trials=40, seed=3,
                    objectives=TOY_OBJECTIVES, quiet=True)
    assert [t.index for t in res.trials] == list(range(40)) and res.evaluated == 40 and res.replayed == 0
    for t in res.trials:
        assert t.seed == trial_seed(3, t.index)
        assert t.config == sample(space_from(TOY_SPACE), ask_rng(3, t.index))
        assert t.metrics == obj(t.config, t.seed) and t.started <= t.finished
    best = res.best()
    assert best.metrics["loss"] == min(t.metrics["loss"] for t in res.trials)
    assert res.best("cost").metrics["cost"] == min(t.metrics["cost"] for t in res.trials)
    assert res.study.status == "finished" and res.study.n_trials == 40
    assert _same(_rows(tmp_path / "s.db", "rs"), res.trials)


def test_seeds_differ_between_trials_and_studies():
    seeds = {trial_seed(s, i) for s in range(3) for i in range(200)}
    assert len(seeds) == 600 and all(0 <= x < 2 ** 63 for x in seeds)


def test_random_search_does_not_depend_on_batch_size(tmp_path):
    a = run_study(tmp_path / "s.db", "b1", RandomSearch(TOY_SPACE, batch_size=1), ToyObjective(), n_trials=30,
                  objectives=TOY_OBJECTIVES, quiet=True)
    b = run_study(tmp_path / "s.db", "b7", RandomSearch(TOY_SPACE, batch_size=7), ToyObjective(), n_trials=30,
                  objectives=TOY_OBJECTIVES, quiet=True)
    assert _same(a.trials, b.trials)


def test_resume_with_a_larger_budget_equals_one_run(tmp_path):
    full = run_study(tmp_path / "s.db", "full", _mutation(), ToyObjective(), n_trials=50, objectives=TOY_OBJECTIVES,
                     seed=1, quiet=True)
    run_study(tmp_path / "s.db", "part", _mutation(), ToyObjective(), n_trials=21, objectives=TOY_OBJECTIVES,
              seed=1, quiet=True)
    res = run_study(tmp_path / "s.db", "part", _mutation(), ToyObjective(), n_trials=50, objectives=TOY_OBJECTIVES,
                    seed=1, quiet=True, resume=True)
    assert (res.evaluated, res.replayed) == (29, 21)
    assert _same(res.trials, full.trials) and _same(_rows(tmp_path / "s.db", "part"), full.trials)
    # mutation depends on what it was told: later candidates are mutations of earlier ones, not fresh samples
    assert any(t.config != sample(space_from(TOY_SPACE), ask_rng(1, t.index)) for t in full.trials[6:])


def test_resume_fills_holes_left_in_the_middle_of_a_batch(tmp_path):
    path = tmp_path / "s.db"
    full = run_study(path, "a", _mutation(), ToyObjective(), n_trials=40, objectives=TOY_OBJECTIVES, quiet=True)
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM trials WHERE idx IN (13, 14, 22) OR idx >= 37")  # as if killed with chunks in flight
    db.close()
    res = run_study(path, "a", _mutation(), ToyObjective(), n_trials=40, objectives=TOY_OBJECTIVES, quiet=True,
                    resume=True)
    assert res.evaluated == 6 and _same(_rows(path, "a"), full.trials)


def test_resume_checks_identity_and_determinism(tmp_path):
    path = tmp_path / "s.db"
    run_study(path, "a", _mutation(), ToyObjective(), n_trials=12, objectives=TOY_OBJECTIVES, quiet=True)
    with pytest.raises(StoreError, match="already exists.*resume"):
        run_study(path, "a", _mutation(), ToyObjective(), n_trials=12, objectives=TOY_OBJECTIVES, quiet=True)
    with pytest.raises(StoreError, match=r"seed \(stored 0, now 5\)"):
        run_study(path, "a", _mutation(), ToyObjective(), n_trials=12, objectives=TOY_OBJECTIVES, seed=5,
                  quiet=True, resume=True)
    with pytest.raises(StoreError, match="strategy.n_random: stored 6, now 7"):
        run_study(path, "a", MutationSearch(TOY_SPACE, metric="loss", n_random=7, batch_size=4), ToyObjective(),
                  n_trials=12, objectives=TOY_OBJECTIVES, quiet=True, resume=True)
    with pytest.raises(StoreError, match="batch_size"):
        run_study(path, "a", _mutation(), ToyObjective(), n_trials=12, objectives=TOY_OBJECTIVES, quiet=True,
                  resume=True, batch_size=3)

    class Sloppy(RandomSearch):  # draws from a global stream, not from the rng it is handed
        def ask(self, index, rng):
            return sample(self.space, np.random.default_rng())
    run_study(path, "s", Sloppy(TOY_SPACE), ToyObjective(), n_trials=5, objectives=TOY_OBJECTIVES, quiet=True)
    with pytest.raises(StoreError, match="not deterministic"):
        run_study(path, "s", Sloppy(TOY_SPACE), ToyObjective(), n_trials=8, objectives=TOY_OBJECTIVES, quiet=True,
                  resume=True)


def test_failed_candidates_are_stored_and_told(tmp_path):
    told = []

    class Spy(RandomSearch):
        def tell(self, trial):
            told.append(trial)
    res = run_study(tmp_path / "s.db", "f", Spy(TOY_SPACE), ToyObjective(fail_act="tanh"), n_trials=60,
                    objectives=TOY_OBJECTIVES, quiet=True)
    failed = [t for t in res.trials if t.status == "failed"]
    assert failed and all(t.config["act"] == "tanh" and t.metrics is None for t in failed)
    assert failed[0].error == "ValueError: activation tanh is not supported by this toy device"
    assert [t.index for t in told] == list(range(60)) and told == res.trials
    assert all(t.config["act"] != "tanh" for t in res.trials if t.status == "complete")


def bad_objective(config, seed):
    return 1.0


def test_a_search_whose_trials_all_fail_stops_with_the_first_error(tmp_path):
    with pytest.raises(UserError, match="first 12 trials all failed; first error: TypeError: objective returned "
                                        "float, expected a dict"):
        run_study(tmp_path / "s.db", "x", RandomSearch(TOY_SPACE, batch_size=4), bad_objective, n_trials=100,
                  objectives={"loss": "min"}, quiet=True)
    with TrialStore(tmp_path / "s.db", readonly=True) as st:
        assert st.study("x").status == "failed" and st.study("x").n_trials == 12


class Grid(Strategy):
    name = "grid"
    batch_size = 3

    def __init__(self, values):
        self.values = values

    def ask(self, index, rng):
        return {"v": self.values[index]} if index < len(self.values) else None


def square(config, seed):
    return {"sq": config["v"] ** 2}


def test_an_exhausted_strategy_ends_the_study(tmp_path):
    res = run_study(tmp_path / "s.db", "g", Grid([1, 2, 3, 4, 5]), square, n_trials=100, objectives={"sq": "max"},
                    quiet=True)
    assert [t.metrics["sq"] for t in res.trials] == [1, 4, 9, 16, 25] and res.best().config == {"v": 5}
    assert res.study.status == "finished"


def test_bad_arguments_raise_user_errors(tmp_path):
    with pytest.raises(UserError, match="seed"):
        run_study(tmp_path / "s.db", "a", Grid([1]), square, n_trials=1, objectives={"sq": "max"}, seed=-1)
    with pytest.raises(UserError, match="n_trials"):
        run_study(tmp_path / "s.db", "a", Grid([1]), square, n_trials=-1, objectives={"sq": "max"})
    with pytest.raises(UserError, match="IntRange"):
        IntRange(3, 1)
    with pytest.raises(UserError, match="log"):
        FloatRange(0, 1, log=True)
    with pytest.raises(UserError, match="space parameter 'w'"):
        space_from({"w": 3})
    assert isinstance(space_from({"w": [1, 2]})["w"], Choice)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_draws_rate_and_eta_on_a_terminal_only(monkeypatch):
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert list(progress(range(50), desc="sweep", unit="cand")) == list(range(50))
    out = tty.getvalue()
    assert "sweep" in out and "50/50" in out and "cand/s" in out and "<" in out  # count, rate, elapsed<ETA
    tty.seek(0), tty.truncate()
    assert sum(progress(range(50), desc="sweep", quiet=True)) == sum(range(50))
    assert tty.getvalue() == ""
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    bar = progress(total=10, desc="manual")
    bar.update(10), bar.close()
    assert pipe.getvalue() == ""


def test_shared_search_options_choose_the_executor():
    import argparse

    from nas.runtime.options import RuntimeOptions, add_runtime_arguments
    p = argparse.ArgumentParser()
    add_runtime_arguments(p, default_study="nb201")
    o = RuntimeOptions.from_args(p.parse_args(["--store", "s.db", "--workers", "3", "--resume", "--seed", "2"]))
    assert (o.study, o.executor_kind, o.workers, o.resume, o.seed) == ("nb201", "pool", 3, True, 2)
    o = RuntimeOptions.from_args(p.parse_args(["--store", "s.db", "--executor", "ray", "--address", "auto"]))
    assert (o.executor_kind, o.address) == ("ray", "auto")
    assert RuntimeOptions.from_args(p.parse_args(["--store", "s.db"])).executor().kind == "inprocess"
    with pytest.raises(UserError, match="--address is only used with --executor ray"):
        RuntimeOptions.from_args(p.parse_args(["--store", "s.db", "--address", "auto"]))
    with pytest.raises(UserError, match="--workers 0"):
        RuntimeOptions.from_args(p.parse_args(["--store", "s.db", "--workers", "0"]))


def test_toy_command_resumes_and_reports_user_errors(tmp_path, capsys):
    from nas.runtime.toy import main
    args = ["--store", str(tmp_path / "t.db"), "--trials", "20", "--quiet"]
    assert main(args) == 0
    assert "20 trials (20 evaluated now, 0 replayed)" in capsys.readouterr().out
    assert main(args[:3] + ["30", "--quiet", "--resume"]) == 0
    assert "30 trials (10 evaluated now, 20 replayed)" in capsys.readouterr().out
    with pytest.raises(StoreError, match="already exists"):
        main(args)


class SnapshotMutation(MutationSearch):
    """MutationSearch with snapshots; counts tells to show what a resume replays."""

    def __init__(self):
        super().__init__(TOY_SPACE, metric="loss", n_random=6, batch_size=4)
        self.told = 0

    def tell(self, trial):
        self.told += 1
        super().tell(trial)

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, state):
        self.best = state["best"]


def test_resume_restores_a_strategy_snapshot_instead_of_replaying(tmp_path):
    path = tmp_path / "s.db"
    kw = dict(objectives=TOY_OBJECTIVES, seed=2, quiet=True, checkpoint_seconds=0)
    full = run_study(path, "full", SnapshotMutation(), ToyObjective(), n_trials=40, **kw)
    run_study(path, "part", SnapshotMutation(), ToyObjective(), n_trials=22, **kw)
    with TrialStore(path, readonly=True) as st:
        assert st.checkpoint(st.study("part"))[0] == 20   # last batch boundary, not the truncated end (22)
    strategy = SnapshotMutation()
    res = run_study(path, "part", strategy, ToyObjective(), n_trials=40, resume=True, **kw)
    assert strategy.told == 20 and (res.replayed, res.evaluated) == (22, 18)  # 20 restored, 2 re-asked
    assert _same(res.trials, full.trials) and _same(_rows(path, "part"), full.trials)

    run_study(path, "holed", SnapshotMutation(), ToyObjective(), n_trials=24, **kw)
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM trials WHERE idx = 13 AND study_id = (SELECT id FROM studies WHERE name = 'holed')")
    db.close()
    strategy = SnapshotMutation()   # the snapshot (at 24) is unusable with trial 13 missing: replay everything
    res = run_study(path, "holed", strategy, ToyObjective(), n_trials=40, resume=True, **kw)
    assert strategy.told == 40 and res.evaluated == 17 and _same(res.trials, full.trials)
