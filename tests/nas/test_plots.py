import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.cli import main as ovl
from compiler.errors import UserError
from hw_models.arch import load_arch
from nas.runtime import RandomSearch, run_study
from nas.runtime.plots import (best_so_far, curve_band, pareto_mask, plot_layers, plot_pareto, plot_roofline,
                               plot_search_curves, save_figure)
from nas.runtime.results import load_studies
from nas.runtime.report import LayerRecord, ReportError, Roof, load_report, report_from_dict
from nas.runtime.toy import TOY_OBJECTIVES, TOY_SPACE, ToyObjective

LAYERS = [
    {"name": "conv1", "op": "Conv", "cycles": 400000, "macs": 118013952, "ddr_bytes_read": 1204224,
     "ddr_bytes_written": 802816, "pe_utilisation": 0.73},
    {"name": "pool1", "op": "MaxPool", "cycles": 50000, "macs": 0, "ddr_bytes_read": 802816,
     "ddr_bytes_written": 200704, "pe_utilisation": 0.0},
    {"name": "conv2", "op": "Conv", "cycles": 900000, "macs": 346816512, "ddr_bytes_read": 600000,
     "ddr_bytes_written": 602112, "pe_utilisation": 0.6, "extra_field": "ignored"},
    {"name": "fc", "op": "Gemm", "cycles": 300000, "macs": 1024000, "ddr_bytes_read": 2048000,
     "ddr_bytes_written": 2000, "pe_utilisation": 0.02},
]
REPORT = {"network": "toynet", "arch": "a10_generic", "layers": LAYERS}


def _records():
    return report_from_dict(REPORT).layers


def test_best_so_far_ignores_failures_and_follows_the_direction():
    nan = float("nan")
    np.testing.assert_array_equal(best_so_far([nan, 3, 5, nan, 2, 4]), [nan, 3, 3, 3, 2, 2])
    np.testing.assert_array_equal(best_so_far([1, 3, nan, 2, 4], "max"), [1, 3, 3, 3, 4])


def test_curve_band_is_mean_and_spread_over_runs_cut_to_the_shortest():
    x, mean, lo, hi = curve_band([[4, 2, 3, 1], [2, 2, 1]], "min", "std")
    np.testing.assert_array_equal(x, [1, 2, 3])
    np.testing.assert_allclose(mean, [3, 2, 1.5]) and np.testing.assert_allclose(hi - mean, [1, 0, 0.5])
    _, _, lo, hi = curve_band([[4, 2, 3], [2, 2, 1], [5, 5, 5]], "min", "minmax")
    np.testing.assert_array_equal(lo, [2, 2, 1]) and np.testing.assert_array_equal(hi, [5, 5, 5])


def test_search_curve_plot_has_one_line_per_group_and_one_point_per_evaluation():
    rng = np.random.default_rng(0)
    curves = {"random": [rng.random(50).tolist() for _ in range(3)], "evolution": [rng.random(40).tolist()]}
    fig = plot_search_curves(curves, metric="val_error", direction="min")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "evaluations" and ax.get_ylabel() == "best val_error (lower is better)"
    assert [len(line.get_xdata()) for line in ax.lines] == [50, 40]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.mean([best_so_far(r) for r in curves["random"]], 0))
    assert len(ax.collections) == 1  # a spread band only where there are several seeds
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["random (3 seeds)", "evolution (1 seed)"]


def _dominated_brute(v, directions):
    s = np.asarray(v, float) * [1 if d == "min" else -1 for d in directions]
    return [any(np.all(q <= p) and np.any(q < p) for q in s) for p in s]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=40),
       st.sampled_from(list(itertools.product(["min", "max"], repeat=2))))
def test_pareto_mask_matches_brute_force_in_2d(points, directions):
    mask = pareto_mask(points, directions)
    assert mask.tolist() == [not d for d in _dominated_brute(points, directions)]


def test_pareto_mask_in_3d_and_bad_shapes():
    pts = np.random.default_rng(1).integers(0, 5, size=(60, 3))
    dirs = ("min", "max", "min")
    assert pareto_mask(pts, dirs).tolist() == [not d for d in _dominated_brute(pts, dirs)]
    with pytest.raises(UserError, match=r"\(n, 2\)"):
        pareto_mask([[1, 2, 3]])


def test_pareto_plot_greys_dominated_points_and_joins_the_front():
    pts = [{"lat": a, "err": b} for a, b in [(1, 9), (2, 5), (3, 6), (4, 2), (5, 5), (6, 1), (2, 8)]]
    fig = plot_pareto({"s": pts}, x="lat", y="err")
    (ax,) = fig.axes
    grey, front = ax.collections[0], ax.collections[1]
    assert sorted(map(tuple, grey.get_offsets().tolist())) == [(2, 8), (3, 6), (5, 5)]
    assert front.get_offsets().tolist() == [[1, 9], [2, 5], [4, 2], [6, 1]]
    assert ax.lines[0].get_xdata().tolist() == [1, 2, 4, 6]
    assert ax.get_xlabel() == "lat (lower is better)" and ax.get_ylabel() == "err (lower is better)"
    assert "dominated (3)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_layer_bars_show_latency_and_utilisation_per_layer():
    layers = _records()
    clock = load_arch("a10_generic").clock_hz
    fig = plot_layers(layers, clock_hz=clock)
    ax_t, ax_u = fig.axes
    assert ax_t.get_ylabel() == "latency (ms)" and ax_u.get_ylabel() == "PE utilisation (%)"
    np.testing.assert_allclose([p.get_height() for p in ax_t.patches], [l.cycles / clock * 1e3 for l in layers])
    np.testing.assert_allclose([p.get_height() for p in ax_u.patches], [73, 0, 60, 2])
    assert [t.get_text() for t in ax_u.get_xticklabels()] == ["conv1", "pool1", "conv2", "fc"]
    fig = plot_layers(layers, top=2)  # the two slowest, in network order, in cycles
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["conv1", "conv2"]
    assert fig.axes[0].get_ylabel() == "cycles" and [p.get_height() for p in fig.axes[0].patches] == [4e5, 9e5]


@pytest.mark.parametrize("arch_name", ["a10_generic", "dla_alexnet_a10"])
def test_roofline_places_layers_at_intensity_and_attained_performance(arch_name):
    arch = load_arch(arch_name)
    roof = Roof.from_arch(arch)
    layers = _records()
    fig = plot_roofline(layers, roof)
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == "arithmetic intensity (ops per DDR byte)" and ax.get_ylabel() == "performance (GOP/s)"
    placed = np.concatenate([c.get_offsets() for c in ax.collections])
    expected = [(2 * l.macs / l.ddr_bytes, 2 * l.macs / l.cycles * arch.clock_hz / 1e9) for l in layers if l.macs]
    np.testing.assert_allclose(sorted(map(tuple, placed)), sorted(expected))
    roof_line = ax.lines[0]
    x = np.asarray(roof_line.get_xdata())
    peak = 2 * arch.winograd_macs_per_cycle * arch.clock_hz / 1e9
    np.testing.assert_allclose(roof_line.get_ydata(), np.minimum(arch.ddr_bytes_per_cycle * arch.clock_hz / 1e9 * x,
                                                                 peak))
    assert len(ax.lines) == (3 if arch.pe_array.winograd else 2)  # + dense roof under Winograd, + ridge line
    assert "1 without MACs or DDR traffic not shown" in ax.get_title()


def test_figures_are_written_as_png_and_svg(tmp_path):
    fig = plot_pareto({"s": [{"a": 1, "b": 2}, {"a": 2, "b": 1}]}, x="a", y="b")
    assert save_figure(fig, tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = save_figure(fig, tmp_path / "p.svg").read_text()
    assert "<svg" in svg
    with pytest.raises(UserError, match="unknown image format"):
        save_figure(fig, tmp_path / "p.jpg")
    with pytest.raises(UserError, match="does not exist"):
        save_figure(fig, tmp_path / "no" / "p.png")


def test_report_loader_names_the_missing_field(tmp_path):
    assert [l.name for l in _records()] == ["conv1", "pool1", "conv2", "fc"]
    assert isinstance(_records()[0], LayerRecord) and _records()[0].ddr_bytes == 1204224 + 802816
    bad = json.loads(json.dumps(REPORT))
    del bad["layers"][2]["cycles"]
    with pytest.raises(ReportError, match=r"layer 2 \(conv2\): field 'cycles' is missing"):
        report_from_dict(bad)
    bad["layers"][2]["cycles"] = "many"
    with pytest.raises(ReportError, match="'cycles' = 'many': expected a number"):
        report_from_dict(bad)
    with pytest.raises(ReportError, match="non-empty 'layers'"):
        report_from_dict({"layers": []})
    (tmp_path / "r.json").write_text("{not json")
    with pytest.raises(ReportError, match="not valid JSON"):
        load_report(tmp_path / "r.json")
    with pytest.raises(ReportError, match="no such file"):
        load_report(tmp_path / "missing.json")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("plots") / "s.db"
    for seed in range(3):
        run_study(path, f"rs-{seed}", RandomSearch(TOY_SPACE, batch_size=16), ToyObjective(fail_act="tanh"),
                  n_trials=30, objectives=TOY_OBJECTIVES, seed=seed, quiet=True)
    return path


def test_ovl_plot_commands_write_the_figures(tmp_path, store, capsys):
    (tmp_path / "r.json").write_text(json.dumps(REPORT))
    assert ovl(["plot", "curve", str(store), "-o", str(tmp_path / "c.svg")]) == 0
    assert "1 curves over 3 studies" in capsys.readouterr().out
    svg = (tmp_path / "c.svg").read_text()
    assert "evaluations" in svg and "random (3 seeds)" in svg
    assert ovl(["plot", "curve", str(store), "--group", "name", "--metric", "cost", "-o", str(tmp_path / "c.png")]) == 0
    assert "3 curves over 3 studies" in capsys.readouterr().out
    assert ovl(["plot", "pareto", str(store), "--study", "rs-1", "-o", str(tmp_path / "p.png")]) == 0
    n_complete = sum(t.status == "complete" for t in load_studies([store], ["rs-1"])[0].trials)
    assert f"{n_complete} points of 1 studies" in capsys.readouterr().out
    assert ovl(["plot", "layers", str(tmp_path / "r.json"), "-o", str(tmp_path / "l.png")]) == 0
    assert ovl(["plot", "roofline", str(tmp_path / "r.json"), "--arch", "tiny", "-o", str(tmp_path / "r.svg")]) == 0
    assert "wrote" in capsys.readouterr().out and "roofline of tiny" in (tmp_path / "r.svg").read_text()


def test_ovl_plot_user_errors_exit_2(tmp_path, store, capsys):
    (tmp_path / "r.json").write_text(json.dumps({"layers": LAYERS}))
    assert ovl(["plot", "roofline", str(tmp_path / "r.json"), "-o", str(tmp_path / "r.png")]) == 2
    assert "give --arch" in capsys.readouterr().err
    assert ovl(["plot", "curve", str(store), "--metric", "nope", "-o", str(tmp_path / "c.png")]) == 2
    assert "metric 'nope' not in study" in capsys.readouterr().err
    assert ovl(["plot", "pareto", str(store), "--x", "loss", "--y", "loss", "-o", str(tmp_path / "p.png")]) == 2
    assert ovl(["plot", "curve", str(tmp_path / "none.db"), "-o", str(tmp_path / "c.png")]) == 2
    assert "no such file" in capsys.readouterr().err
