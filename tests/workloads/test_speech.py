import wave

import numpy as np
import pytest
import torch

from workloads.speech.data import SPEAKERS, DataError, load_fsdd, read_wav, recordings
from workloads.speech.features import FeatureConfig, fixed_length, hz_to_mel, log_mel, mel_filterbank, mel_to_hz
from workloads.speech.model import InvalidRankError, ModelConfig, SpeechModel, TrainConfig, matrix_specs
from workloads.speech.train import evaluate, train


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_fsdd_copy_is_complete_and_split_is_the_official_one():
    recs = recordings()
    assert len(recs) == 1500
    assert {r.speaker for r in recs} == set(SPEAKERS)
    assert {r.digit for r in recs} == set(range(10)) and {r.index for r in recs} == set(range(25))
    parts = {p: load_fsdd(p) for p in ("train", "val", "test")}
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == (1020, 180, 300)
    # every part is class-balanced (each digit spoken by each speaker the same number of times)
    for p in parts.values():
        assert np.all(np.bincount(p.y, minlength=10) == len(p) // 10)
    spk = {p: load_fsdd(p, split="speaker") for p in ("train", "val", "test")}
    assert (len(spk["train"]), len(spk["val"]), len(spk["test"])) == (1000, 250, 250)


def test_log_mel_matches_a_direct_computation_and_puts_a_tone_in_the_right_band():
    cfg = FeatureConfig()
    assert np.allclose(mel_to_hz(hz_to_mel(np.array([0.0, 440.0, 4000.0]))), [0.0, 440.0, 4000.0])
    bank = mel_filterbank(cfg)
    assert bank.shape == (cfg.n_mels, cfg.n_fft // 2 + 1) and np.all(bank.max(axis=1) > 0.5)
    t = np.arange(8000) / 8000
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    feats = log_mel(tone, cfg)
    assert feats.shape == (1 + (8000 - cfg.n_fft + cfg.hop - 1) // cfg.hop, cfg.n_mels)
    centres = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(4000), cfg.n_mels + 2))[1:-1]
    assert abs(centres[int(np.argmax(feats[10]))] - 1000) < 150
    # frame 3 computed by hand
    frame = tone[3 * cfg.hop:3 * cfg.hop + cfg.n_fft] * np.hanning(cfg.n_fft + 1)[:-1]
    want = np.log(bank @ (np.abs(np.fft.rfft(frame)) ** 2) + cfg.floor)
    assert np.allclose(feats[3], want, rtol=1e-5, atol=1e-4)


def test_fixed_length_pads_left_and_crops_to_loudest_window():
    cfg = FeatureConfig(frames=6)
    short = np.zeros((4, cfg.n_mels), dtype=np.float32)
    out = fixed_length(short, cfg)
    assert out.shape == (6, cfg.n_mels) and np.all(out[:2] == np.float32(np.log(cfg.floor))) and np.all(out[2:] == 0)
    long = np.full((20, cfg.n_mels), -10.0, dtype=np.float32)
    long[11:17] = 0.0
    assert np.all(fixed_length(long, cfg) == 0.0)


def test_bad_wav_and_bad_names_raise_user_errors(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"not a wav")
    with pytest.raises(DataError, match="x.wav"):
        read_wav(tmp_path / "x.wav")
    with pytest.raises(DataError, match="digit_speaker_index"):
        recordings(tmp_path)
    with pytest.raises(DataError, match="no .wav"):
        recordings(tmp_path / "empty")
    with wave.open(str(tmp_path / "st.wav"), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0" * 16)
    with pytest.raises(DataError, match="mono 16-bit"):
        read_wav(tmp_path / "st.wav")
    with pytest.raises(DataError, match="part 'dev'"):
        load_fsdd("dev")


def test_both_forward_paths_match_torch_nn_lstm():
    cfg = ModelConfig(n_mels=8, hidden=16, layers=2, frames=7)
    m = SpeechModel(cfg, seed=3).eval()
    ref = torch.nn.LSTM(8, 16, num_layers=2, batch_first=True)
    with torch.no_grad():
        for k in range(2):
            getattr(ref, f"weight_ih_l{k}").copy_(m.dense(f"lstm{k}.W"))
            getattr(ref, f"weight_hh_l{k}").copy_(m.dense(f"lstm{k}.R"))
            getattr(ref, f"bias_ih_l{k}").copy_(m.biases[f"lstm{k}"][:64])
            getattr(ref, f"bias_hh_l{k}").copy_(m.biases[f"lstm{k}"][64:])
        x = torch.randn(3, 7, 8)
        y, _ = ref(x)
        want = y[:, -1] @ m.dense("fc").T + m.biases["fc"]
        torch.testing.assert_close(m(x), want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(m.forward_unrolled(x), want, rtol=1e-5, atol=1e-5)


def test_matrix_specs_and_rank_validation():
    cfg = ModelConfig()
    specs = {s.name: s for s in matrix_specs(cfg)}
    assert (specs["lstm0.W"].rows, specs["lstm0.W"].cols) == (1024, 32)
    assert (specs["lstm1.R"].rows, specs["lstm1.R"].cols) == (1024, 256)
    assert specs["lstm1.R"].break_even_rank() == 204  # 1024*256/(1024+256) = 204.8
    assert SpeechModel(cfg).n_params() == sum(s.full_params for s in specs.values()) + 2 * 8 * 256 + 10
    with pytest.raises(InvalidRankError, match="lstm9"):
        SpeechModel(cfg, {"lstm9.W": 3})
    with pytest.raises(InvalidRankError, match="legal 1..32"):
        SpeechModel(cfg, {"lstm0.W": 33})


def test_small_model_learns_fsdd_and_training_is_seeded():
    from workloads.speech.data import SpeechData
    cfg = ModelConfig(hidden=32, frames=48)
    full = load_fsdd("train")
    tr = SpeechData(full.x[::2], full.y[::2])  # 510 clips, every digit and speaker
    te = load_fsdd("test")
    accs, losses = [], []
    for _ in range(2):
        m = SpeechModel(cfg, seed=0)
        tc = TrainConfig(epochs=10, seed=1, lr=1e-2)
        train(m, tr, tc)
        accs.append(evaluate(m, te))
        losses.append(tc.log)
    assert accs[0] == accs[1] and losses[0] == losses[1]
    assert accs[0] > 50.0  # chance is 10 %
