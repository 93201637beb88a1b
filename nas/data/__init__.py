"""Readers for the offline NAS labels in this folder (provenance and columns in README.md).

Every reader is cached and returns read-only numpy arrays indexed by the NB201 index (0..15624) where the
file covers the whole space, so searches can look labels up with plain array indexing.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).parent
NB201_SIZE = 15625
LATENCY_DEVICES = ("fpga", "eyeriss", "raspi4", "pixel3", "gpu_1080ti_b1", "cpu_gold6226")
NASLIB_PROXIES = ("epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params",
                  "plain", "snip", "synflow")


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class NB201Table:
    """All 15,625 NB201 cells: arch strings and benchmark labels, row i = NB201 index i."""

    arch_str: tuple[str, ...]
    cifar10: np.ndarray          # test accuracy, %, after 200 epochs (seed mean)
    cifar100: np.ndarray
    imagenet16: np.ndarray
    latency_ms: dict[str, np.ndarray]   # device -> ms (HELP / HW-NAS-Bench), keys LATENCY_DEVICES

    def accuracy(self, dataset: str) -> np.ndarray:
        return {"cifar10": self.cifar10, "cifar100": self.cifar100, "imagenet16": self.imagenet16}[dataset]


@cache
def nb201_table() -> NB201Table:
    with open(DATA_DIR / "nb201_accuracy.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(DATA_DIR / "nb201_latency_ms.csv", newline="") as f:
        lat = list(csv.DictReader(f))
    if len(rows) != NB201_SIZE or len(lat) != NB201_SIZE:
        raise RuntimeError("nas/data NB201 files are incomplete; restore them from git")
    for i, (r, q) in enumerate(zip(rows, lat)):
        if int(r["index"]) != i or q["arch_str"] != r["arch_str"]:
            raise RuntimeError(f"nas/data NB201 files disagree at row {i}; restore them from git")
    col = lambda rs, k: _frozen(np.array([float(r[k]) for r in rs]))  # noqa: E731
    return NB201Table(tuple(r["arch_str"] for r in rows), col(rows, "cifar10_test"), col(rows, "cifar100_test"),
                      col(rows, "imagenet16_test"), {d: col(lat, d) for d in LATENCY_DEVICES})


@cache
def naslib_zc(dataset: str = "cifar10") -> dict[str, np.ndarray | tuple[str, ...]]:
    """NASLib's zero-cost scores for its NB201 sample: {'arch_str': (...), 'val_accuracy': array, proxy: array}.

    A missing score is NaN. `dataset` is one of cifar10, cifar100, ImageNet16-120.
    """
    with open(DATA_DIR / "naslib_zc_nb201.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["dataset"] == dataset]
    if not rows:
        raise ValueError(f"no NASLib rows for dataset '{dataset}'; use cifar10, cifar100 or ImageNet16-120")
    out: dict[str, np.ndarray | tuple[str, ...]] = {"arch_str": tuple(r["arch_str"] for r in rows)}
    for key in ("val_accuracy",) + NASLIB_PROXIES:
        out[key] = _frozen(np.array([float(r[key]) if r[key] != "" else np.nan for r in rows]))
    return out


@cache
def latbench_cpu() -> dict[str, float]:
    """LatBench desktop CPU (i7-7820X) latency in ms by arch_str (15,284 connected cells)."""
    with open(DATA_DIR / "latbench_desktop_cpu_i7_7820x.csv", newline="") as f:
        return {r["arch_str"]: float(r["latency_ms"]) for r in csv.DictReader(f)}


@cache
def cifar10_sample() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 (N, 32, 32, 3) HWC, labels int64 (N,), split str (N,)) of the 550-image sample."""
    with np.load(DATA_DIR / "cifar10_sample.npz") as z:
        return _frozen(z["images"]), _frozen(z["labels"]), _frozen(z["split"])
