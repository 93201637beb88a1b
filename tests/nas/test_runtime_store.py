import json
import math
import sqlite3

import numpy as np
import pytest

from compiler.errors import UserError
from nas.runtime.store import StoreError, Trial, TrialStore, canonical, code_version, metric_value


def _trial(i, **kw):
    base = dict(index=i, config={"a": i, "t": (1, 2)}, metrics={"loss": i / 3, "n": np.int64(i)}, seed=100 + i,
                status="complete", started=1.0 + i, finished=2.5 + i, error=None)
    return Trial(**(base | kw))


def test_round_trip_of_studies_and_trials(tmp_path):
    path = tmp_path / "s.db"
    with TrialStore(path) as st:
        s = st.create_study("a", config={"space": {"x": [1, 2]}}, objectives={"loss": "min", "acc": "max"}, seed=7)
        st.add_trials(s, [_trial(1), _trial(0)])
        st.add_trials(s, [_trial(2, metrics=None, status="failed", error="ValueError: bad")])
    with TrialStore(path, readonly=True) as st:
        (s,) = st.studies()
        assert (s.name, s.seed, s.status, s.n_trials) == ("a", 7, "running", 3)
        assert s.config == {"space": {"x": [1, 2]}} and s.objectives == {"loss": "min", "acc": "max"}
        assert s.primary == ("loss", "min") and s.code_version.startswith("ovl-toolchain ")
        trials = st.trials(s)
        assert [t.index for t in trials] == [0, 1, 2]
        assert trials[1] == Trial(1, {"a": 1, "t": [1, 2]}, {"loss": 1 / 3, "n": 1}, 101, "complete", 2.0, 3.5)
        assert trials[1].duration == 1.5 and trials[1].same_result(_trial(1))
        assert trials[2].metrics is None and trials[2].error == "ValueError: bad"
        assert [t.index for t in st.trials(s, status="failed")] == [2]
        assert math.isnan(metric_value(trials[2], "loss")) and metric_value(trials[0], "loss") == 0.0


def test_store_is_wal_and_has_the_documented_columns(tmp_path):
    path = tmp_path / "s.db"
    TrialStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cols = {r[1] for r in db.execute("PRAGMA table_info(trials)")}
    assert cols == {"study_id", "idx", "config", "metrics", "seed", "status", "started", "finished", "error"}
    cols = {r[1] for r in db.execute("PRAGMA table_info(studies)")}
    assert {"name", "config", "objectives", "seed", "code_version", "status", "created", "updated"} <= cols


def test_a_failed_batch_write_leaves_nothing(tmp_path):
    with TrialStore(tmp_path / "s.db") as st:
        s = st.create_study("a", config={}, objectives={"loss": "min"}, seed=0)
        st.add_trials(s, [_trial(0)])
        with pytest.raises(StoreError, match="already stored"):
            st.add_trials(s, [_trial(1), _trial(0)])   # 1 is new, 0 is a duplicate: the whole write rolls back
        assert [t.index for t in st.trials(s)] == [0]
        with pytest.raises(UserError, match="cannot be stored as JSON"):
            st.add_trials(s, [_trial(5, metrics={"f": object()})])
        assert st.study("a").n_trials == 1


def test_user_errors_name_the_thing(tmp_path):
    with pytest.raises(StoreError, match="no such file"):
        TrialStore(tmp_path / "missing.db", readonly=True)
    with pytest.raises(StoreError, match="does not exist"):
        TrialStore(tmp_path / "nodir" / "s.db")
    bogus = tmp_path / "bogus.db"
    bogus.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="not a trial store"):
        TrialStore(bogus, readonly=True)
    with TrialStore(tmp_path / "s.db") as st:
        st.create_study("a", config={}, objectives={"loss": "min"}, seed=0)
        with pytest.raises(StoreError, match="already exists"):
            st.create_study("a", config={}, objectives={"loss": "min"}, seed=0)
        with pytest.raises(StoreError, match="studies there: a"):
            st.study("b")
        with pytest.raises(UserError, match="'min' or 'max'"):
            st.create_study("c", config={}, objectives={"loss": "down"}, seed=0)


def test_readers_see_committed_trials_while_a_writer_holds_the_store(tmp_path):
    path = tmp_path / "s.db"
    writer = TrialStore(path)
    s = writer.create_study("a", config={}, objectives={"loss": "min"}, seed=0)
    writer.add_trials(s, [_trial(0), _trial(1)])
    with TrialStore(path, readonly=True) as reader:
        assert len(reader.trials(reader.study("a"))) == 2
        writer.add_trials(s, [_trial(2)])
        assert len(reader.trials(reader.study("a"))) == 3
    writer.close()


def test_canonical_json_matches_what_reads_back():
    value = {"b": (1, 2.5), "a": np.float32(0.5), "c": [np.int32(3)]}
    assert canonical(value) == json.loads(json.dumps({"a": 0.5, "b": [1, 2.5], "c": [3]}))
    assert "ovl-toolchain" in code_version()
