"""Zero-cost proxies (Abdelfattah et al., ICLR 2021) computed from one minibatch, sharing passes where exact.

Protocol (the released zero-cost-nas code, summarised in docs/nas.md): one minibatch, cross-entropy loss, network
in training mode (BatchNorm uses batch statistics), PyTorch default initialisation; only Conv2d/Linear
*weights* are scored and per-weight values are summed over all layers:

| proxy     | definition (L = CE loss on the batch, W = a scored weight tensor)                                   |
|-----------|-----------------------------------------------------------------------------------------------------|
| grad_norm | sum over layers of the Frobenius norm of dL/dW                                                      |
| snip      | sum |W * dL/dW|  (the gradient of L w.r.t. an all-ones weight mask)                                  |
| grasp     | sum -W * (H g), g = dL/dW, H the Hessian of L (negated as in the reference)                         |
| fisher    | per output channel c of every Conv/Linear: 0.5 * mean_n (sum_spatial a * dL/da)^2, a = layer output;|
|           | the channel value is broadcast to the channel's weights and summed                                   |
| jacob_cov | J = d(sum of logits)/d input per sample; R = corrcoef(J); -sum(log(l + 1e-5) + 1/(l + 1e-5)), l = eig R|
| synflow   | on a float64 copy with |parameters|, BN off (see below), all-ones input of batch 1: sum |W * dR/dW|,  |
|           | R = sum of the outputs                                                                              |
| plain     | sum W * dL/dW                                                                                       |
| naswot    | log|det K|, K = sum over ReLUs of c c^T + (1 - c)(1 - c)^T, c = per-sample binary code (input > 0)  |

Shared work: one forward pass serves every proxy except synflow; jacob_cov, the weight and activation
gradients, and the Hessian-vector product are three autograd calls on that single graph. Each value equals what
the reference computes on its own deep copy, because training-mode BN makes every forward pass identical.

Speed without changing a value (each checked bit for bit against the straightforward version, see
tests/nas/test_proxies_speed.py): `fast_pooling` swaps the 3x3 stride-1 average pools (count_include_pad=False)
for an exact re-implementation that is ~6x faster on CPU than PyTorch's NCHW kernel; `skip_zero_edges` lets NB201
cells leave `none` edges (x * 0) out of their sums, forward and in every backward pass; NASWOT adds the kernel of
ReLUs that read the same tensor once per ReLU but computes it once, from bit-packed codes (`naswot_term`, exact
integers); the 64x64 numpy linear algebra runs with one BLAS thread (scoped), which on a shared machine is 50x
cheaper in CPU time than OpenBLAS's spinning thread pool.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from compiler.errors import UserError

NETWORK_PROXIES = ("grad_norm", "snip", "grasp", "fisher", "jacob_cov", "synflow", "plain", "naswot")
# CIFAR-10 normalisation used by the reference data loaders
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


class ProxyError(UserError):
    """An unknown proxy name or an unusable proxy input."""


def check_names(names: Iterable[str], known: Sequence[str]) -> tuple[str, ...]:
    names = tuple(names)
    bad = [n for n in names if n not in known]
    if bad:
        raise ProxyError(f"unknown proxy {', '.join(map(repr, bad))}; known: {', '.join(known)}")
    return names


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor   # (N, 3, 32, 32) float32, normalised
    targets: torch.Tensor  # (N,) int64


def cifar10_batch(batch_size: int = 64, seed: int = 0, augment: bool = True) -> Batch:
    """A minibatch of real CIFAR-10 training images from nas/data/cifar10_sample.npz (400 train images).

    Images are drawn without replacement with `numpy.random.default_rng(seed)`; with `augment` each gets the
    reference training augmentation (random crop with 4 pixels of zero padding, horizontal flip with p=0.5),
    then ToTensor scaling and per-channel normalisation.
    """
    from nas.data import cifar10_sample

    images, labels, split = cifar10_sample()
    train = np.flatnonzero(split == "train")
    if not 1 <= batch_size <= len(train):
        raise ProxyError(f"batch size {batch_size} is out of range 1..{len(train)} (the sample has "
                         f"{len(train)} training images)")
    rng = np.random.default_rng(seed)
    pick = rng.choice(train, batch_size, replace=False)
    x = images[pick].astype(np.float32) / 255.0  # N, H, W, C
    if augment:
        padded = np.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)))
        offs = rng.integers(0, 9, size=(batch_size, 2))
        flips = rng.random(batch_size) < 0.5
        out = np.empty_like(x)
        for n, ((dy, dx), flip) in enumerate(zip(offs, flips)):
            crop = padded[n, dy:dy + 32, dx:dx + 32]
            out[n] = crop[:, ::-1] if flip else crop
        x = out
    x = (x - np.array(CIFAR_MEAN, np.float32)) / np.array(CIFAR_STD, np.float32)
    inputs = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    return Batch(inputs, torch.from_numpy(labels[pick].astype(np.int64)))


def _scored(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


_BLAS = None


def _one_blas_thread():
    """One BLAS thread for the enclosed numpy calls, restored afterwards (threadpoolctl). The matrices here are
    64x64; OpenBLAS's default pool spins a second thread that cost ~0.1 CPU s per cell on a shared machine."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def jacob_cov_score(jacobian: np.ndarray) -> float:
    """-sum(log(l + k) + 1/(l + k)), k = 1e-5, over the eigenvalues of the per-sample correlation matrix.

    The matrix is symmetric, so `eigvalsh` is used (the reference calls `eig`; the values agree to rounding).
    NaN when the correlation is undefined (a sample with a constant Jacobian, e.g. a disconnected network).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(jacobian.reshape(jacobian.shape[0], -1).astype(np.float64))
    if not np.isfinite(corr).all():
        return float("nan")
    v = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def naswot_term(codes: np.ndarray) -> np.ndarray:
    """c c^T + (1 - c)(1 - c)^T for binary codes c (rows of a bool (N, D) array), float64: the number of equal
    bits of each pair, D - Hamming distance, counted on codes packed 64 bits to a word (XOR, `bitwise_count`).
    Exact integer arithmetic, so the values are those of the float products (integers below 2**53) at a third
    of the CPU time of a float32 matrix product for the 64 x 16,384 codes of NB201's first stage."""
    n, d = codes.shape
    packed = np.packbits(codes, axis=1)  # the tail of the last byte is zero in every row: XOR 0
    words = np.pad(packed, ((0, 0), (0, -packed.shape[1] % 8))).view(np.uint64)
    if words.shape[1] <= 16:  # short codes: all pairs at once
        dist = _popcount(words[:, None, :] ^ words[None, :, :]).sum(2, dtype=np.int64)
    else:  # long codes: row by row over the upper triangle (half the words), mirrored
        dist = np.empty((n, n), np.int64)
        for i in range(n):
            dist[i, i:] = _popcount(words[i] ^ words[i:]).sum(1, dtype=np.int64)
            dist[i:, i] = dist[i, i:]
    return d - dist.astype(np.float64)


_BYTE_BITS = np.array([bin(b).count("1") for b in range(256)], np.uint8)


def _popcount_bytes(words: np.ndarray) -> np.ndarray:
    """Set bits per uint64 word by a byte table (numpy < 2 has no `bitwise_count`)."""
    b = np.ascontiguousarray(words).view(np.uint8).reshape(*words.shape, 8)
    return _BYTE_BITS[b].sum(-1, dtype=np.uint8)


_popcount = getattr(np, "bitwise_count", _popcount_bytes)


def score_network(net: nn.Module, batch: Batch, names: Sequence[str] = NETWORK_PROXIES, *,
                  synflow_net: nn.Module | None = None) -> dict[str, float]:
    """Proxies of one untrained network on one batch (see the module docstring for definitions).

    `net` is used in training mode and its parameter gradients are left cleared. `synflow_net` is the BN-off
    copy synflow runs on (same weights; it is modified in place: parameters made absolute, cast to float64);
    by default a deep copy of `net` with every BatchNorm replaced by the identity.
    """
    names = check_names(names, NETWORK_PROXIES)
    want = set(names)
    out: dict[str, float] = {}
    main = want - {"synflow"}
    if main:
        out.update(_main_pass(net, batch, want))
    if "synflow" in want:
        if synflow_net is None:
            synflow_net = _bn_off_copy(net)
        out["synflow"] = synflow_score(synflow_net, tuple(batch.inputs.shape[1:]))
    return {n: out[n] for n in names}


def _main_pass(net: nn.Module, batch: Batch, want: set[str]) -> dict[str, float]:
    scored = _scored(net)
    weights = [m.weight for m in scored]
    net.train()
    acts: list[torch.Tensor | None] = [None] * len(scored)
    hooks = []
    need_grads = bool(want & {"grad_norm", "snip", "grasp", "fisher", "plain"})
    if "fisher" in want:
        for k, m in enumerate(scored):
            def keep(_m, _inp, output, k=k):
                acts[k] = output
            hooks.append(m.register_forward_hook(keep))
    n = batch.inputs.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)
    if "naswot" in want:
        seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # id(input) -> (input, its term)

        def code(_m, inp, _out):
            x = inp[0]
            hit = seen.get(id(x))
            if hit is not None and hit[0] is x:  # another ReLU on the same tensor: same code, same term
                kernel.add_(hit[1])
                return
            term = torch.from_numpy(naswot_term((x.detach() > 0).reshape(n, -1).numpy()))
            seen[id(x)] = (x, term)
            kernel.add_(term)
        hooks.extend(m.register_forward_hook(code) for m in net.modules() if isinstance(m, nn.ReLU))
    out: dict[str, float] = {}
    try:
        x = batch.inputs.clone().requires_grad_("jacob_cov" in want)
        y = net(x)
        if "jacob_cov" in want:
            (jac,) = torch.autograd.grad(y, x, torch.ones_like(y), retain_graph=need_grads,
                                          materialize_grads=True)
            with _one_blas_thread():
                out["jacob_cov"] = jacob_cov_score(jac.detach().numpy())
        if "naswot" in want:
            seen.clear()
            with _one_blas_thread():
                sign, logdet = np.linalg.slogdet(kernel.numpy())
            out["naswot"] = float(logdet) if sign != 0 else float("-inf")
        if need_grads:
            loss = F.cross_entropy(y, batch.targets)
            fisher_acts = [a for a in acts if a is not None] if "fisher" in want else []
            grads = torch.autograd.grad(loss, weights + fisher_acts, create_graph="grasp" in want,
                                        materialize_grads=True)
            gw, ga = grads[:len(weights)], grads[len(weights):]
            with torch.no_grad():
                if "grad_norm" in want:
                    out["grad_norm"] = float(sum(g.norm() for g in gw))
                if "snip" in want:
                    out["snip"] = float(sum((w * g).abs().sum() for w, g in zip(weights, gw)))
                if "plain" in want:
                    out["plain"] = float(sum((w * g).sum() for w, g in zip(weights, gw)))
                if "fisher" in want:
                    total = 0.0
                    for w, a, g in zip(weights, fisher_acts, ga):
                        prod = a.detach() * g.detach()
                        g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
                        per_channel = g_nk.pow(2).mean(0).mul(0.5).abs()
                        total += float(per_channel.sum()) * w[0].numel()
                    out["fisher"] = total
            if "grasp" in want:
                z = sum((g.detach() * g).sum() for g in gw)
                hg = torch.autograd.grad(z, weights, materialize_grads=True)
                with torch.no_grad():
                    out["grasp"] = float(sum((-w * h).sum() for w, h in zip(weights, hg)))
    finally:
        for h in hooks:
            h.remove()
        net.zero_grad(set_to_none=True)
    return out


def proxy_tensors(net: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> list[torch.Tensor]:
    """Every tensor the gradient proxies read, computed as `_main_pass` computes them (training mode, one graph):
    the output, the input Jacobian of the summed logits, the loss gradients of the scored weights and of their
    layers' outputs, and the Hessian-vector product (grasp), gradients materialised as zeros. For exactness
    checks of speed-ups (tests/nas/test_proxies_speed.py, bench/bench_nas_proxies.py --check-skip)."""
    scored = _scored(net)
    weights, acts = [m.weight for m in scored], []
    hooks = [m.register_forward_hook(lambda _m, _i, o: acts.append(o)) for m in scored]
    xi = x.clone().requires_grad_(True)
    try:
        y = net.train()(xi)
    finally:
        for h in hooks:
            h.remove()
    (jac,) = torch.autograd.grad(y, xi, torch.ones_like(y), retain_graph=True, materialize_grads=True)
    grads = torch.autograd.grad(F.cross_entropy(y, targets), weights + acts, create_graph=True,
                                materialize_grads=True)
    z = sum((g.detach() * g).sum() for g in grads[:len(weights)])
    hg = torch.autograd.grad(z, weights, materialize_grads=True)
    return [y.detach(), jac] + [g.detach() for g in grads] + list(hg)


# --- exact, faster 3x3 stride-1 average pooling --------------------------------------------------------------------
# PyTorch's CPU kernel for NCHW avg_pool2d(3, 1, 1, count_include_pad=False) adds the window row by row from
# zero and divides by the count of in-bounds pixels; its backward starts from zero and adds grad/count of each
# output in row-major output order. Eight whole-tensor adds over shifted views of a zero-padded copy (read as flat
# planes, see `_window_sum_flat`) reproduce both orders exactly (adding a padding zero changes no sum: the running
# sum is never -0.0), so values are bit for bit those of `F.avg_pool2d` / `avg_pool2d_backward`, at ~1/6 of the
# CPU time. The two are each other's adjoint, which gives the double backward grasp needs (as in PyTorch, where
# avg_pool2d_backward's derivative is avg_pool2d).
_COUNTS: dict[tuple[int, int, torch.dtype, torch.device], torch.Tensor] = {}


def _counts(h: int, w: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    key = (h, w, dtype, device)
    if key not in _COUNTS:
        rows = torch.full((h,), 3.0, dtype=dtype, device=device)
        cols = torch.full((w,), 3.0, dtype=dtype, device=device)
        rows[0] -= 1
        rows[-1] -= 1
        cols[0] -= 1
        cols[-1] -= 1
        if h == 1:
            rows[:] = 1
        if w == 1:
            cols[:] = 1
        _COUNTS[key] = rows[:, None] * cols[None, :]
    return _COUNTS[key]


def _window_sum_flat(xp: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Window sums over a (N, C, h + 3, w + 2) zero-padded tensor (1 pixel of padding, 2 rows at the bottom):
    each plane is read as one flat row, so the shift (dh, dw) is the offset dh * (w + 2) + dw and every add is one
    long contiguous run instead of h runs of w (3x faster on 8x8 planes). The result has w + 2 columns; the last
    two are junk (sums that wrap into the next row) and are cut by the caller. Per element the adds are those of
    the 2-D form, in the same order."""
    n, c = xp.shape[:2]
    wp = w + 2
    flat = xp.reshape(n * c, (h + 3) * wp)
    run = h * wp
    s = flat[:, 0:run] + flat[:, 1:1 + run]
    for dh in range(3):
        for dw in range(3):
            if dh or dw == 2:
                o = dh * wp + dw
                s += flat[:, o:o + run]
    return s.view(n, c, h, wp)


def _pool(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    return _window_sum_flat(F.pad(x, (1, 1, 1, 2)), h, w)[..., :w] / _counts(h, w, x.dtype, x.device)


def _pool_adjoint(g: torch.Tensor) -> torch.Tensor:
    h, w = g.shape[-2:]
    gp = F.pad(g / _counts(h, w, g.dtype, g.device), (1, 1, 1, 2))
    return _window_sum_flat(gp, h, w)[..., :w].contiguous()


class _Pool3x3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return _pool(x)

    @staticmethod
    def backward(ctx, g):
        return _Pool3x3Adjoint.apply(g)


class _Pool3x3Adjoint(torch.autograd.Function):
    @staticmethod
    def forward(ctx, g):
        return _pool_adjoint(g)

    @staticmethod
    def backward(ctx, gg):
        return _Pool3x3.apply(gg)


class ExactAvgPool3x3(nn.Module):
    """`nn.AvgPool2d(3, 1, padding=1, count_include_pad=False)` with the same values (forward, backward and double
    backward, bit for bit against PyTorch's CPU kernel; other devices get the same function, not necessarily the
    same rounding) at a fraction of the CPU time; 4-D inputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ProxyError(f"ExactAvgPool3x3 takes a 4-D (N, C, H, W) input, got shape {tuple(x.shape)}")
        return _Pool3x3.apply(x)


def _pool_is_3x3_exclusive(m: nn.Module) -> bool:
    def two(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)

    return (type(m) is nn.AvgPool2d and two(m.kernel_size) == (3, 3) and two(m.stride) == (1, 1)
            and two(m.padding) == (1, 1) and not m.count_include_pad and not m.ceil_mode
            and m.divisor_override is None)


def fast_pooling(net: nn.Module) -> int:
    """Replace (in place) every `nn.AvgPool2d(3, 1, 1, count_include_pad=False)` of `net` by `ExactAvgPool3x3`,
    which computes the same values faster; returns how many were replaced. Proxy values do not change."""
    count = 0
    for m in list(net.modules()):
        for name, child in list(m.named_children()):
            if _pool_is_3x3_exclusive(child):
                setattr(m, name, ExactAvgPool3x3())
                count += 1
    return count


def skip_zero_edges(net: nn.Module, on: bool = True) -> int:
    """Let the NB201 cells of `net` leave their `none` edges out of the node sums instead of adding x * 0
    (`nas.spaces.nb201_torch.Cell.skip_zero_edges`; those that share a node with a skip edge are kept, see
    `Cell._skippable`); returns the number of edges left out. The skipped work is
    exact zeros: forward, the three backward passes of `score_network` (gradients that would be x * 0 become
    None, read as zeros) and the double backward. Values are those of the reference up to the sign of exact
    zeros, so every proxy is unchanged (tested bit for bit); an edge whose input is not finite is still
    multiplied, as the reference does, so NaN propagates the same way."""
    from nas.spaces.nb201_torch import Cell

    count = 0
    for m in net.modules():
        if isinstance(m, Cell):
            m.skip_zero_edges = on
            count += len(m._skippable()) if on else 0
    return count


class _Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _bn_off_copy(net: nn.Module) -> nn.Module:
    import copy

    copy_ = copy.deepcopy(net)
    for name, m in list(copy_.named_modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(m, child_name, _Identity())
    return copy_


def synflow_score(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Synaptic flow of `net` (modified in place): every state tensor made absolute, float64, training mode,
    input all ones of batch 1; sum over Conv/Linear weights of |W * dR/dW|, R = sum of the outputs."""
    net.train()
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    net.double()
    net.zero_grad(set_to_none=True)
    out = net(torch.ones((1, *input_shape), dtype=torch.float64))
    out.sum().backward()
    with torch.no_grad():
        total = sum(float((m.weight * m.weight.grad).abs().sum()) for m in _scored(net) if m.weight.grad is not None)
    net.zero_grad(set_to_none=True)
    return total if math.isfinite(total) else float("nan")
