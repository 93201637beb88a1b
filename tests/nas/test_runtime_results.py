import csv
import io
import json
import statistics

import pytest

from compiler.cli import main as ovl
from compiler.errors import UserError
from nas.runtime import MutationSearch, RandomSearch, run_study
from nas.runtime.results import compare, config_value, curve_runs, export_csv, load_studies, summary
from nas.runtime.toy import TOY_OBJECTIVES, TOY_SPACE, ToyObjective


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("results") / "s.db"
    for seed in range(2):
        run_study(path, f"rs-{seed}", RandomSearch(TOY_SPACE, batch_size=8), ToyObjective(fail_act="tanh"),
                  n_trials=24, objectives=TOY_OBJECTIVES, seed=seed, quiet=True)
        run_study(path, f"mut-{seed}", MutationSearch(TOY_SPACE, metric="loss"), ToyObjective(fail_act="tanh"),
                  n_trials=24, objectives=TOY_OBJECTIVES, seed=seed, quiet=True)
    return path


def test_summary_counts_and_best(store):
    (d,) = load_studies([store], ["rs-1"])
    s = summary(d)
    complete = [t for t in d.trials if t.status == "complete"]
    assert (s["trials"], s["complete"], s["failed"]) == (24, len(complete), 24 - len(complete)) and s["failed"] > 0
    assert s["best"] == min(t.metrics["loss"] for t in complete) and s["metric"] == "loss"
    assert s["median"] == statistics.median(t.metrics["loss"] for t in complete)
    assert summary(d, "cost")["best"] == min(t.metrics["cost"] for t in complete)


def test_compare_groups_over_seeds(store):
    datas = load_studies([store])
    rows = compare(datas, group="strategy.name")
    assert [r["group"] for r in rows] == ["random", "mutation"]
    bests = [summary(d)["best"] for d in datas if d.study.name.startswith("rs-")]
    assert rows[0]["best_mean"] == pytest.approx(statistics.fmean(bests))
    assert rows[0]["best_std"] == pytest.approx(statistics.pstdev(bests)) and rows[0]["studies"] == 2
    assert config_value(datas[0].study, "seed") == 0
    with pytest.raises(UserError, match="no 'strategy.nope'"):
        config_value(datas[0].study, "strategy.nope")
    runs, metric, direction = curve_runs(datas)
    assert (metric, direction) == ("loss", "min") and [len(r) for r in runs["random"]] == [24, 24]


def test_csv_export_round_trips_every_trial(store):
    datas = load_studies([store], ["mut-0"])
    buf = io.StringIO()
    assert export_csv(datas, buf) == 24
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert list(rows[0])[:8] == ["study", "index", "status", "seed", "started", "finished", "duration", "error"]
    for row, t in zip(rows, datas[0].trials):
        assert int(row["index"]) == t.index and int(row["seed"]) == t.seed and row["config.act"] == t.config["act"]
        assert float(row["config.x"]) == t.config["x"]
        if t.metrics:
            assert float(row["metrics.loss"]) == t.metrics["loss"] and row["error"] == ""
        else:
            assert row["metrics.loss"] == "" and row["error"].startswith("ValueError")


def test_ovl_results_list_show_export_compare(store, tmp_path, capsys):
    assert ovl(["results", "list", str(store)]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("rs-0", "rs-1", "mut-0", "mut-1")) and "finished" in out
    assert ovl(["results", "list", str(store), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["trials"] for r in rows] == [24] * 4 and {r["strategy"] for r in rows} == {"random", "mutation"}
    assert ovl(["results", "show", str(store), "rs-0", "--top", "3", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    losses = [r["loss"] for r in shown["top"]]
    assert len(losses) == 3 and losses == sorted(losses) and losses[0] == shown["summary"]["best"]
    assert ovl(["results", "show", str(store), "rs-0", "--metric", "cost"]) == 0
    assert "best cost (min)" in capsys.readouterr().out
    assert ovl(["results", "export", str(store), "--study", "rs-0", "--csv", str(tmp_path / "t.csv")]) == 0
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 25
    assert "wrote 24 trials of 1 studies" in capsys.readouterr().out
    assert ovl(["results", "compare", str(store), "--group", "strategy.name"]) == 0
    out = capsys.readouterr().out
    assert "best_mean" in out and "random" in out and "mutation" in out
    assert ovl(["results", "compare", str(store), str(store), "--study", "rs-0", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_ovl_results_user_errors(store, tmp_path, capsys):
    assert ovl(["results", "show", str(store), "nope"]) == 2
    assert "study 'nope' not found" in capsys.readouterr().err
    assert ovl(["results", "list", str(tmp_path / "none.db")]) == 2
    assert ovl(["results", "show", str(store), "rs-0", "--metric", "acc"]) == 2
    assert "metric 'acc' not in study 'rs-0'; its metrics: cost, loss" in capsys.readouterr().err
    assert ovl(["results", "export", str(store), "--csv", str(tmp_path / "no" / "t.csv")]) == 2
