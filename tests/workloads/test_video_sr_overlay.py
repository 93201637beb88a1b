"""The zoo's SR networks on the overlay at video resolutions."""
import pytest

from compiler.cli import main
from workloads.video_sr.kernels import SRInputError
from workloads.video_sr.overlay import RESOLUTIONS, overlay_markdown, overlay_row, sr_networks, tailor_arch


def test_espcn_720p_frame_rate_and_limiter():
    row = overlay_row("espcn", "a10_generic", "360p->720p")
    assert not row.error
    assert row.fps == pytest.approx(1000.0 / row.latency_ms)
    # ESPCN x2 at 640x360: 5x5x1x64 + 3x3x64x32 + 3x3x32x4 MACs per LR pixel
    assert row.gmacs == pytest.approx(640 * 360 * (25 * 64 + 9 * 64 * 32 + 9 * 32 * 4) / 1e9, rel=1e-6)
    assert 0 < row.pe_utilisation <= 1 and 0 < row.ddr_utilisation <= 1 and row.limiter
    big = overlay_row("espcn", "a10_generic", "540p->1080p")
    assert big.gmacs == pytest.approx(row.gmacs * 2.25, rel=1e-6) and big.fps < row.fps
    assert "espcn" in overlay_markdown([row, big])


def test_overlay_inputs(capsys):
    assert {"espcn", "edsr"} <= set(sr_networks()) and set(RESOLUTIONS) == {"360p->720p", "540p->1080p"}
    with pytest.raises(SRInputError, match="unknown"):
        overlay_row("espcn", "a10_generic", "4k")
    assert main(["sr", "overlay", "--net", "nosuchnet"]) == 2
    assert "nosuchnet" in capsys.readouterr().err


def test_fast_estimate_agrees_with_cycle_model():
    # docs/simulator.md: the estimate is within 5% of the cycle model on the test networks
    for net in ("fsrcnn", "espcn"):
        row = overlay_row(net, "a10_generic", "360p->720p")
        assert row.fps_estimate == pytest.approx(row.fps, rel=0.05)


def test_host_fallback_is_reported():
    # dla_alexnet_a10 has no depth-to-space kernel: ESPCN's PixelShuffle runs on the host, untimed
    dla = overlay_row("espcn", "dla_alexnet_a10", "360p->720p")
    assert dla.host_ops == ("DepthToSpace",) and "on the host" in overlay_markdown([dla])
    assert overlay_row("espcn", "a10_generic", "360p->720p").host_ops == ()
    # FSRCNN's 9x9 stride-2 deconvolution (56 -> 1 channels) has no overlay kernel: its MACs are reported apart
    fs = overlay_row("fsrcnn", "a10_generic", "360p->720p")
    assert "ConvTranspose" in fs.host_ops and fs.host_gmacs >= 640 * 360 * 81 * 56 / 1e9 * (1 - 1e-9)


def test_shipped_tailored_arch_is_legal_and_faster():
    from hw_models.arch import legality_errors, load_arch
    from workloads.video_sr.overlay import DEFAULT_ARCHS, TAILORED_ARCH

    arch = load_arch(TAILORED_ARCH)
    assert not legality_errors(arch) and str(TAILORED_ARCH) in DEFAULT_ARCHS
    base = load_arch("a10_generic")
    assert (arch.device, arch.precision, arch.clock_mhz, arch.ddr.bandwidth_gbs) == \
        (base.device, base.precision, base.clock_mhz, base.ddr.bandwidth_gbs)
    generic = overlay_row("espcn", "a10_generic", "360p->720p")
    tailored = overlay_row("espcn", str(TAILORED_ARCH), "360p->720p")
    assert tailored.arch == "sr_a10" and tailored.fps > generic.fps and tailored.host_ops == ()


def test_tailor_arch_small_search():
    from hw_models.arch import arch_from_dict
    import tomllib

    res, text = tailor_arch(max_candidates=12, seed=1)
    assert res.considered <= 12 and res.best is not None
    arch = arch_from_dict(tomllib.loads(text))
    assert arch.name == "sr_a10" and arch.device == "arria10_gx1150"
    # the base is always the first candidate, so the best is at least as fast (geometric mean)
    assert res.best.throughput >= res.base.throughput
    with pytest.raises(SRInputError, match="unknown"):
        tailor_arch("8k", max_candidates=1)
