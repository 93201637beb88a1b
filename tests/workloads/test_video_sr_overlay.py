"""The zoo's SR networks on the overlay at video resolutions."""
import pytest

from compiler.cli import main
from workloads.video_sr.kernels import SRInputError
from workloads.video_sr.overlay import RESOLUTIONS, overlay_markdown, overlay_row, sr_networks


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
