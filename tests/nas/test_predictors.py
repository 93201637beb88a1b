"""Predictor encodings, networks, latency regressors and metrics: hand-checked encodings, exact identities of the
fast paths, known values of the published baselines on the real data, determinism, save/load, CLI and errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from compiler.cli import main as ovl
from nas.predictors.encoding import distinct_graphs, encode, mlp_inputs, nb201_encodings, op_count_features
from nas.predictors.latency import (LatencyPredictor, PredictorError, TrainConfig, fit_latency, latency_labels,
                                    latency_metrics, split_cells)
from nas.predictors.models import BinaryGCN, GCNRegressor, init_weights
from nas.spaces import nb201
from nas.spaces.nb201_latency import canonical

SMALL = TrainConfig(epochs=12, batch_size=32, lr=3e-3, hidden=48, layers=4)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Torch's default two OpenMP threads crawl on this shared machine; the tests run on one and restore it."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --- encoding -------------------------------------------------------------------------------------------------------
def test_encoding_of_a_hand_checked_cell():
    ops = nb201.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|skip_connect~2|")
    adj, feat = encode(ops)
    # nodes: 0 global, 1 input, 2..7 edges 0..5, 8 output
    edges = {(i, j) for i, j in zip(*np.nonzero(adj)) if i != j and i != 0}
    # conv3 (edge 0) feeds conv1 (edge 2) and pool (edge 4); both skips are bypassed: input -> output (via edges
    # 1 and 5), conv1 -> output (via edge 5); pool -> output; the none edge 3 is cut off
    assert edges == {(1, 2), (2, 4), (2, 6), (1, 8), (4, 8), (6, 8)}
    assert (adj[0] == 1).all() and (np.diag(adj) == 1).all()
    assert feat[2].tolist() == [0, 1, 0, 0, 0, 0] and feat[4].tolist() == [1, 0, 0, 0, 0, 0]
    assert feat[6].tolist() == [0, 0, 1, 0, 0, 0]
    assert not feat[[3, 5, 7]].any()          # skip, none, skip carry no op
    assert feat[0, 5] == feat[1, 3] == feat[8, 4] == 1


def test_disconnected_cell_keeps_only_global_row_and_self_loops():
    adj, feat = encode(nb201.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"))
    expect = np.eye(9, dtype=np.float32)
    expect[0] = 1
    assert (adj == expect).all()
    assert feat.sum() == 3 and feat[0, 5] == feat[1, 3] == feat[8, 4] == 1


def test_dead_edges_do_not_change_the_encoding_and_tables_match():
    adj, feat = nb201_encodings()
    mat = nb201.ops_matrix()
    rng = np.random.default_rng(0)
    for i in rng.choice(nb201.SIZE, 400, replace=False):
        ops = tuple(int(k) for k in mat[i])
        a, x = encode(canonical(ops))
        assert (a == adj[i]).all() and (x == feat[i]).all()
    first, inverse = distinct_graphs()
    assert len(first) < nb201.SIZE
    same = np.flatnonzero(inverse == inverse[first[5]])
    assert all((adj[j] == adj[same[0]]).all() and (feat[j] == feat[same[0]]).all() for j in same)
    assert mlp_inputs([7]).shape == (1, 9 * 6 + 81)


def test_op_counts_all_and_live_edges():
    i = nb201.to_index("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|")
    assert op_count_features([i]).tolist() == [[1, 1, 1, 1]]
    # conv1x1 on edge 2->3 reads node 2, which only receives `none`: dead
    assert op_count_features([i], live_only=True).tolist() == [[1, 0, 1, 1]]


# --- networks -------------------------------------------------------------------------------------------------------
def test_gcn_last_layer_shortcut_equals_the_full_layer():
    net = init_weights(GCNRegressor(hidden=32, layers=3, dropout=0.0), torch.Generator().manual_seed(1)).eval()
    adj, feat = nb201_encodings()
    a, x = torch.from_numpy(adj[:50].copy()), torch.from_numpy(feat[:50].copy())
    h = x
    for gc, norm in zip(net.encoder.gc, net.encoder.norm):   # every layer in full, as eagle computes it
        h = torch.relu(norm(torch.bmm(a, h @ gc.weight) + gc.bias))
    ref = net.fc(h[:, 0])[:, 0]
    assert torch.allclose(net(a, x), ref, atol=1e-5)


def test_binary_head_pair_logits_and_score_order():
    net = init_weights(BinaryGCN(hidden=16, layers=2, dropout=0.0), torch.Generator().manual_seed(2)).eval()
    adj, feat = nb201_encodings()
    a, x = torch.from_numpy(adj[:20].copy()), torch.from_numpy(feat[:20].copy())
    e = net.encoder(a, x)
    pairs = torch.log_softmax(net.pair_logits(e, e), -1)
    i, j = torch.meshgrid(torch.arange(20), torch.arange(20), indexing="ij")
    direct = net(a[i.flatten()], x[i.flatten()], a[j.flatten()], x[j.flatten()]).reshape(20, 20, 2)
    assert torch.allclose(pairs, direct, atol=1e-5)
    s = e @ net.score_direction()
    d = pairs[..., 0] - pairs[..., 1]
    assert torch.allclose(d - d.T, s[:, None] - s[None, :], atol=1e-4)   # antisymmetrised comparator


# --- metrics and baselines ----------------------------------------------------------------------------------------
def test_leeway_is_relative_to_the_prediction():
    m = latency_metrics(np.array([1.0, 1.0, 2.0, 1.0]), np.array([0.905, 1.2, 2.1, 1.04]))
    # 0.905 is within 10 % of the prediction 1.0 but not within 10 % of itself (|1 - 0.905| > 0.0905)
    assert m["within_10"] == 0.75 and m["within_truth_10"] == 0.5
    assert m["within_5"] == 0.5 and m["within_1"] == 0.0


def test_linear_baseline_recovers_the_additive_fpga_model():
    labels = latency_labels("fpga")
    sp = split_cells(labels, 900, 100, seed=3)
    pred, _ = fit_latency("linear", sp.train, labels[sp.train])
    skip, c1, c3, pool, intercept = pred.state["coef"]
    assert (c1, c3, pool, intercept) == pytest.approx((0.5152, 1.2576, 0.4096, 1.13296), abs=1e-4)
    assert skip == pytest.approx(0.0, abs=1e-9)
    assert latency_metrics(pred.predict(sp.test), labels[sp.test])["within_1"] == 1.0


def test_linear_baseline_on_latbench_reproduces_the_published_37_5_percent():
    labels = latency_labels("latbench")
    cells = np.flatnonzero(~np.isnan(labels))
    assert len(cells) == 15284
    pred, _ = fit_latency("linear", cells, labels[cells])
    m = latency_metrics(pred.predict(cells), labels[cells])
    assert m["within_truth_10"] == pytest.approx(0.375, abs=5e-4)
    assert m["r2"] == pytest.approx(0.64, abs=0.005)
    live, _ = fit_latency("linear-live", cells, labels[cells])
    assert latency_metrics(live.predict(cells), labels[cells])["within_10"] > m["within_10"] + 0.05


@pytest.mark.parametrize("kind", ["gcn", "mlp"])
def test_small_network_learns_measured_cpu_latency_and_is_deterministic(kind, tmp_path):
    labels = latency_labels("latbench")
    sp = split_cells(labels, 300, 100, seed=0)
    test = sp.test[:3000]
    fit = lambda seed: fit_latency(kind, sp.train, labels[sp.train], valid=sp.valid,  # noqa: E731
                                   valid_ms=labels[sp.valid], config=SMALL, seed=seed)
    pred, hist = fit(0)
    m = latency_metrics(pred.predict(test), labels[test])
    lin, _ = fit_latency("linear", sp.train, labels[sp.train])
    base = latency_metrics(lin.predict(test), labels[test])
    assert m["within_10"] > base["within_10"] + 0.1 and m["spearman"] > 0.9
    assert hist["valid_loss"][hist["best_epoch"]] == min(hist["valid_loss"])
    again, _ = fit(0)
    assert np.array_equal(again.predict(test[:100]), pred.predict(test[:100]))
    other, _ = fit(1)
    assert not np.array_equal(other.predict(test[:100]), pred.predict(test[:100]))
    loaded = LatencyPredictor.load(pred.save(tmp_path / "m.pt"))
    assert np.allclose(loaded.predict(test[:100]), pred.predict(test[:100]))


# --- data sources and errors ------------------------------------------------------------------------------------------
def test_csv_source_split_and_errors(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("index,arch_str,latency_ms\n" + "".join(f"{i},x,{1 + i / 100}\n" for i in range(0, 3000, 2)))
    lab = latency_labels(str(p))
    assert np.isnan(lab[1]) and lab[2] == pytest.approx(1.02)
    sp = split_cells(lab, 900, 100, seed=1)
    assert len(sp.test) == 500 and not set(sp.train) & set(sp.test) and not set(sp.valid) & set(sp.train)
    assert not np.isnan(lab[sp.test]).any()
    with pytest.raises(PredictorError, match="labelled cells"):
        split_cells(lab, 1400, 100)
    with pytest.raises(PredictorError, match="neither a device"):
        latency_labels("no_such_device")
    overlay = latency_labels("overlay")                         # the simulated overlay table in nas/data
    assert overlay.shape == (nb201.SIZE,) and (overlay > 0).all()
    (tmp_path / "bad.csv").write_text("idx,ms\n1,2\n")
    with pytest.raises(PredictorError, match="columns"):
        latency_labels(str(tmp_path / "bad.csv"))
    with pytest.raises(PredictorError, match="unknown predictor kind"):
        fit_latency("forest", [1, 2], [1.0, 2.0])
    with pytest.raises(PredictorError, match="does not exist"):
        LatencyPredictor.load(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(PredictorError, match="cannot read"):
        LatencyPredictor.load(tmp_path / "junk.pt")


def test_cli_train_eval_store_and_errors(tmp_path, capsys):
    store, models = tmp_path / "p.db", tmp_path / "models"
    rc = ovl(["predictor", "train", "--source", "latbench", "--kinds", "linear", "linear-live", "--seeds", "2",
              "--store", str(store), "--save", str(models), "--quiet", "--json"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["seed"]) for r in rows] == [("linear", 0), ("linear-live", 0), ("linear", 1),
                                                      ("linear-live", 1)]
    assert all(r["n"] == 15284 - 1000 for r in rows)
    from nas.runtime import TrialStore

    with TrialStore(store, readonly=True) as st:
        assert len(st.trials(st.study("predictor"))) == 4
    assert ovl(["predictor", "eval", str(models / "linear-s1.pt"), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["within_10"] == pytest.approx(rows[2]["within_10"]) and ev["n"] == rows[2]["n"]
    assert ovl(["predictor", "eval", str(models / "linear-s1.pt"), "--source", "fpga", "--cells", "all"]) == 0
    assert "n=15625" in capsys.readouterr().out
    # the binary-relation accuracy predictor: trained on 30 cells, ranked on the other 15,595
    rc = ovl(["predictor", "train", "--target", "accuracy", "--train", "30", "--steps", "30", "--hidden", "32",
              "--lr", "3e-3", "--store", str(store), "--study", "acc", "--quiet", "--json"])
    assert rc == 0
    (acc,) = json.loads(capsys.readouterr().out)
    assert acc["n"] == nb201.SIZE - 30 and acc["spearman"] > 0.3 and acc["pairwise_accuracy"] > 0.6
    assert ovl(["predictor", "eval", str(tmp_path / "missing.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert ovl(["predictor", "train", "--source", "nowhere", "--kinds", "linear", "--store", str(store),
                "--study", "x"]) == 2
    assert "nowhere" in capsys.readouterr().err
