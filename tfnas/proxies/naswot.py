"""NASWOT: the log-determinant of the activation-pattern kernel.

Mellor, Turner, Storkey & Crowley, "Neural Architecture Search without
Training", ICML 2021 (reference code: BayesWatch/nas-without-training).

For a minibatch of ``B`` images and every ReLU of the network, the ReLU's
*input* is flattened per image into a binary code c = (input > 0). Summed over
all ReLUs, K = Σ c cᵀ + (1 − c)(1 − c)ᵀ, i.e. K_ij = N_A − d_H(c_i, c_j) with
N_A the number of ReLU units and d_H the Hamming distance. The score is
log|det K|. Higher is better; −inf when K is singular (e.g. two identical
codes), never NaN.

Settings: the network's own PyTorch initialisation (seeded), train mode (BatchNorm uses the
batch's statistics), one forward pass without gradients over the run's batch of real training
images (default 128, no augmentation), float32 activations with TF32 off, K accumulated in
float64, slogdet in float64 on the CPU. Every ``nn.ReLU``'s input is hooked: the conv ops'
ReLU→Conv→BN, the reductions' ReLUs and the final ``lastact`` ReLU.

Fast path: :mod:`tfnas.proxies._engine` computes exactly this K without building networks.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterator

import torch
from torch import nn

from tfnas.errors import UserError
from tfnas.proxies._contract import IMAGES, Proxy, Published, ScoringRun
from tfnas.proxies._engine import Group, kernel_from_gram, naswot_kernels
from tfnas.space import Arch


@contextlib.contextmanager
def no_tf32() -> Iterator[None]:
    """Run CUDA convolutions and matmuls in full float32 (PyTorch lets cuDNN use TF32 by default).

    TF32 rounds conv inputs to 10-bit mantissas, which flips the sign of activations
    near 0 and so changes NASWOT's codes: the proxy is defined on float32 arithmetic,
    the same on every device. (Synflow runs in float64, which TF32 never touches.)
    """
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def kernel_logdet(kernel: torch.Tensor) -> float:
    """log|det K| in float64 on the CPU (so the score does not depend on the device's
    LAPACK); −inf for a singular kernel."""
    sign, logabsdet = torch.linalg.slogdet(kernel.to("cpu", torch.float64))
    if sign.item() == 0 or not math.isfinite(logabsdet.item()):
        return -math.inf
    return logabsdet.item()


def code_gram(relu_input: torch.Tensor) -> torch.Tensor:
    """c cᵀ (float64, B×B) for the codes c = (input > 0) of one ReLU input.

    Products of 0/1 codes summed over fewer than 2²⁴ units are exact in float32.
    """
    x = relu_input.flatten(1)
    codes = torch.gt(x, 0, out=x.new_empty(x.shape, dtype=torch.float32))
    return (codes @ codes.T).double()


def naswot_kernel(network: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """K = Σ_ReLUs c cᵀ + (1 − c)(1 − c)ᵀ (float64, B×B) for one forward pass in train mode.

    The network is run as NASWOT runs it: freshly initialised, in train mode
    (BatchNorm uses batch statistics), one forward pass, no gradients. ReLUs that
    receive the very same tensor (several conv ops reading one node) have the same
    codes: c cᵀ is computed once and added for each of them.
    """
    if not torch.isfinite(batch).all():
        raise UserError("NASWOT batch contains NaN or inf; check the input images")
    gram = torch.zeros(batch.shape[0], batch.shape[0], dtype=torch.float64,
                       device=batch.device)
    units = 0
    seen: dict[int, tuple[weakref.ref, int, torch.Tensor]] = {}  # id → (ref, version, c cᵀ)

    def accumulate(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor):
        nonlocal units
        x = inputs[0]
        ref, version, term = seen.get(id(x), (None, None, None))
        if ref is None or ref() is not x or version != x._version:  # not this exact tensor
            term = code_gram(x)
            seen[id(x)] = (weakref.ref(x), x._version, term)
        gram.add_(term)
        units += x[0].numel()

    relus = [m for m in network.modules() if isinstance(m, nn.ReLU)]
    handles = [relu.register_forward_hook(accumulate) for relu in relus]
    try:
        network.train()
        with torch.no_grad(), no_tf32():
            network(batch)
    finally:
        for handle in handles:
            handle.remove()
    return kernel_from_gram(gram, units)


def naswot_score(network: nn.Module, batch: torch.Tensor) -> float:
    """NASWOT score log|det K| of ``network`` on ``batch`` (Mellor et al. 2021).

    Higher is better; −inf for a singular kernel. ``batch`` is a normalised
    N×3×H×W float tensor on the network's device.
    """
    return kernel_logdet(naswot_kernel(network, batch))


def _score_many(archs: list[Arch], run: ScoringRun) -> list[float]:
    group = Group(list(archs), run.spec.num_classes)
    with no_tf32():
        kernels = naswot_kernels(group, run.images, run.init_stream())
    return [kernel_logdet(k) for k in kernels.cpu()]


PROXY = Proxy(
    name="naswot",
    citation="Mellor, Turner, Storkey & Crowley, Neural Architecture Search without Training, "
             "ICML 2021 (code: BayesWatch/nas-without-training)",
    reads=frozenset({IMAGES}),
    convention="log|det K| of the ReLU activation-pattern kernel; higher is better; -inf for a "
               "singular K",
    settings="batch of real training images (default 128), train-mode BN, seeded PyTorch "
             "init, one forward pass, float32 (TF32 off), K in float64",
    score=lambda arch, run: naswot_score(run.network(arch), run.images),
    score_many=_score_many,
    published=(
        Published("kendall", {"cifar10": 0.574, "cifar100": 0.611, "ImageNet16-120": 0.549},
                  "test_acc_200ep", "Mellor et al. 2021, ~1000 archs"),
        Published("spearman", {"cifar10": 0.77, "cifar100": 0.80, "ImageNet16-120": 0.77},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero (nwot), 1000 archs"),
        Published("pearson", {"cifar10": 0.7357, "cifar100": 0.6398,
                              "ImageNet16-120": 0.6260},
                  "valid_acc_12ep", "the study, vs validation accuracy"),
    ),
    min_batch=2,
)
