"""Proxy batch job (resume, file format), the vote, the correlation report on the committed score file, and
the `ovl nas proxies` commands."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from compiler.cli import main as ovl
from nas.data import DATA_DIR, nb201_table
from nas.proxies import ProxyError, nb201_flops, nb201_params
from nas.proxies.batch import COLUMNS, merge_files, read_scores, run_batch, select_cells
from nas.proxies.report import correlation_report
from nas.proxies.vote import vote_concordance, vote_scores
from nas.spaces import nb201

SCORES = DATA_DIR / "nb201_proxies.csv"


def test_batch_resumes_and_writes_exact_rows(tmp_path):
    out = tmp_path / "s.csv"
    cells = [(7, "random"), (3000, "random"), (12, "naslib")]
    assert run_batch(cells[:2], out, names=["params", "flops"]) == 2
    assert run_batch(cells, out, names=["params", "flops"]) == 1  # only the missing cell
    d = read_scores(out)
    assert d["index"].tolist() == [7, 3000, 12]
    assert d["source"].tolist() == ["random", "random", "naslib"]
    for k, i in enumerate(d["index"]):
        assert d["params"][k] == nb201_params(int(i)) and d["flops"][k] == nb201_flops(int(i))
        assert d["arch_str"][k] == nb201.to_str(nb201.as_ops(int(i)))
    assert np.isnan(d["synflow"]).all()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ProxyError, match="not a proxy score file"):
        run_batch(cells, bad, names=["params"])


def test_merging_two_workers_files(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    run_batch([(7, "random"), (5, "random+naslib")], a, names=["flops"])
    run_batch([(12, "naslib"), (7, "naslib"), (5, "naslib")], b, names=["flops"])
    assert merge_files([b, a], tmp_path / "m.csv") == 3
    d = read_scores(tmp_path / "m.csv")
    assert d["index"].tolist() == [12, 7, 5]
    assert d["source"].tolist() == ["naslib", "random", "random+naslib"]
    assert d["flops"].tolist() == [nb201_flops(12), nb201_flops(7), nb201_flops(5)]
    # in the order and with the labels of a selection
    sel = [(5, "random"), (9, "random"), (12, "random+naslib"), (7, "naslib")]
    assert merge_files([b, a], tmp_path / "o.csv", cells=sel) == 3
    d = read_scores(tmp_path / "o.csv")
    assert d["index"].tolist() == [5, 12, 7] and d["source"].tolist() == ["random", "random+naslib", "naslib"]
    assert d["flops"].tolist() == [nb201_flops(5), nb201_flops(12), nb201_flops(7)]
    with pytest.raises(ProxyError, match="outside the selection"):
        merge_files([a, b], tmp_path / "x.csv", cells=sel[:2])


def test_cell_selection_is_seeded_and_merges_naslib():
    a = select_cells(50, 0, "cifar10")
    assert a == select_cells(50, 0, "cifar10")
    idx = [i for i, _ in a]
    assert len(idx) == len(set(idx))
    assert sum(1 for _, s in a if "random" in s) == 50
    assert len(a) == 50 + 725 - sum(1 for _, s in a if s == "random+naslib")


def test_vote_concordance_by_hand():
    acc = np.array([1.0, 2.0, 3.0])
    scores = {"synflow": np.array([1.0, 2.0, 3.0]), "jacob_cov": np.array([3.0, 2.0, 1.0]),
              "snip": np.array([1.0, 3.0, 2.0])}
    # majority "i > j": (1,0): syn yes, jac no, snip yes -> up; (2,0): yes,no,yes -> up; (2,1): yes,no,no -> down
    # ordered pairs with different accuracy: 6; right: (1,0),(2,0) up & acc up; (0,1),(0,2) down & acc down;
    # (2,1) down but acc up -> wrong; (1,2): majority (no, yes, yes) up but acc down -> wrong
    assert vote_concordance(scores, acc) == pytest.approx(4 / 6)
    assert vote_scores(scores).tolist() == [0.0, 2.0, 1.0]
    # a NaN score ranks last
    scores["jacob_cov"] = np.array([np.nan, 2.0, 1.0])
    assert vote_scores(scores).tolist() == [0.0, 2.0, 1.0]


def test_committed_scores_and_report():
    d = read_scores(SCORES)
    with open(SCORES, newline="") as f:
        assert tuple(next(csv.reader(f))) == COLUMNS
    assert len(d["index"]) == len(set(d["index"].tolist()))
    acc = nb201_table().cifar10
    rep = correlation_report(SCORES)
    rows = {r["proxy"]: r for r in rep["rows"]}
    rand = np.array(["random" in s for s in d["source"]])
    ref = spearmanr(d["synflow"][rand], acc[d["index"][rand]]).statistic
    assert rows["synflow"]["rho"] == pytest.approx(ref)
    assert rows["params"]["vs_naslib"] == pytest.approx(1.0)  # our params are NASLib's exactly
    assert rows["flops"]["vs_naslib"] > 0.99                  # NB201's flops add pooling/bias work to MACs
    assert 0.5 < rep["vote"]["concordance"] < 1.0


def test_report_other_datasets_and_synflow_only_file(tmp_path):
    """The report ranks against the chosen dataset's accuracy and published values; a file without the vote's
    proxies reports no vote; an unknown dataset is a user error."""
    from nas.proxies.report import PUBLISHED_BY_DATASET

    small = tmp_path / "syn.csv"
    cells = [(i, "random") for i in (0, 11, 2024, 5000, 7777, 15000)]
    run_batch(cells, small, names=["params", "flops"])
    d = read_scores(small)
    rep = correlation_report(small, "cifar100")
    rows = {r["proxy"]: r for r in rep["rows"]}
    assert rep["vote"] is None
    assert np.isnan(rows["synflow"]["rho"]) and rows["synflow"]["published"] == PUBLISHED_BY_DATASET["cifar100"]["synflow"]
    ref = spearmanr(d["params"], nb201_table().cifar100[d["index"]]).statistic
    assert rows["params"]["rho"] == pytest.approx(ref)
    assert ref != pytest.approx(spearmanr(d["params"], nb201_table().cifar10[d["index"]]).statistic)
    with pytest.raises(ProxyError, match="has no NB201 accuracy"):
        correlation_report(small, "svhn")


def test_cli_score_and_report(capsys):
    assert ovl(["nas", "proxies", "score", "5", "--proxies", "params", "flops", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["index"] == 5 and out[0]["params"] == nb201_params(5) and out[0]["flops"] == nb201_flops(5)
    assert ovl(["nas", "proxies", "report", str(SCORES), "--json"]) == 0
    assert {r["proxy"] for r in json.loads(capsys.readouterr().out)["rows"]} >= {"synflow", "jacob_cov", "snip"}
    assert ovl(["nas", "proxies", "score", "|bad|"]) == 2
    assert "not an NB201 arch string" in capsys.readouterr().err
    assert ovl(["nas", "proxies", "score", "3", "--proxies", "zen"]) == 2


def test_committed_files_are_complete():
    """The proxy file holds every cell its documented command selects (1,000 random cells, seed 0, plus NASLib's
    725 CIFAR-10 cells), in that order, with every proxy; the synflow file covers the whole space."""
    d = read_scores(SCORES)
    cells = select_cells(1000, 0, "cifar10")
    assert d["index"].tolist() == [i for i, _ in cells]
    assert d["source"].tolist() == [s for _, s in cells]
    for name in ("grad_norm", "snip", "grasp", "fisher", "synflow", "plain", "naswot", "params", "flops"):
        assert not np.isnan(d[name]).any(), name
    # jacob_cov is NaN exactly where the output ignores the input (no live path through the cell)
    dead = np.array([not any(nb201.live_edges(nb201.as_ops(int(i)))) for i in d["index"]])
    assert dead.any() and (np.isnan(d["jacob_cov"]) == dead).all()
    full = read_scores(DATA_DIR / "nb201_synflow.csv")
    assert sorted(full["index"].tolist()) == list(range(nb201.SIZE))
    assert not np.isnan(full["synflow"]).any() and not np.isnan(full["params"]).any()


def test_committed_scores_reproduce():
    """Rows of the committed score files recompute to the same values (same protocol, seeds and batch)."""
    import torch

    from nas.proxies import nb201_proxies

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        full = read_scores(DATA_DIR / "nb201_synflow.csv")
        k = 7777
        i = int(full["index"][k])
        got = nb201_proxies(i, ["synflow", "params", "flops"])
        assert got["synflow"] == pytest.approx(full["synflow"][k], rel=1e-6)
        assert got["params"] == full["params"][k] and got["flops"] == full["flops"][k]
        d = read_scores(SCORES)
        k = int(np.flatnonzero(d["source"] == "naslib")[-1])   # a cell of the second worker
        got = nb201_proxies(int(d["index"][k]))
    finally:
        torch.set_num_threads(threads)
    for name, value in got.items():
        assert value == pytest.approx(d[name][k], rel=1e-4, abs=1e-9), name


def test_shards_split_the_selection(tmp_path):
    from nas.proxies.batch import main as batch_main

    for k in (0, 1):
        assert batch_main(["--sample", "5", "--proxies", "params", "--shard", f"{k}/2",
                           "-o", str(tmp_path / f"w{k}.csv")]) == 0
    cells = select_cells(5, 0)
    assert read_scores(tmp_path / "w0.csv")["index"].tolist() == [i for i, _ in cells[0::2]]
    assert read_scores(tmp_path / "w1.csv")["index"].tolist() == [i for i, _ in cells[1::2]]
    assert merge_files([tmp_path / "w0.csv", tmp_path / "w1.csv"], tmp_path / "all.csv", cells=cells) == 5
    assert read_scores(tmp_path / "all.csv")["index"].tolist() == [i for i, _ in cells]
    for bad in ("2/2", "1", "a/b"):
        assert batch_main(["--sample", "5", "--shard", bad, "-o", str(tmp_path / "x.csv")]) == 2
    assert not (tmp_path / "x.csv").exists()


def test_allocator_tuning_applies_on_glibc():
    import platform
    import subprocess
    import sys

    # in a child process: the setting is process-wide
    code = "from nas.proxies.batch import tune_allocator; print(tune_allocator())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == str(sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc")
