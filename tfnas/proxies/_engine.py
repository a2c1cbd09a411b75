"""The fast path of NASWOT and Synflow: their numbers for a group of architectures per pass.

The proxies are defined on a built network (:mod:`tfnas.proxies.naswot`,
:mod:`tfnas.proxies.synflow`); this module computes the same numbers for TSS
architectures directly, from the seeded initial weights
(:class:`tfnas.init_weights.InitStream`) and a functional forward pass that does only the
work the proxies need:

- **No network build.** Weights are views into the seed's init stream, bit-identical
  to ``build_network(arch, classes, seed=seed)``.
- **NASWOT** (Mellor et al. 2021): one forward pass in train mode, no autograd, no
  classifier. Every ReLU's input gives codes c = (input > 0); with G = Σ c cᵀ (one
  matmul per ReLU instead of two) and d = diag(G) (a code's number of ones),
  K = Σ c cᵀ + (1 − c)(1 − c)ᵀ = 2G − d 1ᵀ − 1 dᵀ + N_A. All ReLUs of a cell that
  read the same node see the same tensor: their codes are computed once and counted
  with multiplicity. All sums are of small integers, exact in float32 per ReLU
  (< 2²⁴) and accumulated in float64, so K is exactly the baseline's K.
- **Exact zeros are skipped.** ``none`` adds nothing; a node whose inputs are all
  ``none`` (or read such nodes) is exactly zero, and so is everything computed from it
  (ReLU→conv→train-mode BN of a zero map is 0: mean 0, variance 0, 0/√ε = 0). Its
  ReLUs still count in K: their codes are all 0, adding their number of units to
  N_A and nothing to G.
- **Synflow** (Tanaka et al. 2020; Abdelfattah et al. 2021) in forward mode: with
  |θ|, no BN and an all-ones input every activation is ≥ 0, so the ReLUs are the
  identity and the network is linear in its input. Σ θ ⊙ ∂R/∂θ over conv and linear
  weights is d/dα R(α·W) at α = 1. A pass carries (value v, derivative d) as a
  batch of two; linear maps (pooling, skip, sums) act on both, and a weight layer
  maps (v, d) → (Wv, W(v + d)) — one convolution of the batch ``cumsum`` = (v, v + d).
  One float64 forward of batch 2 instead of a forward plus a backward.
- **Several architectures per pass** (for GPUs, where one small network cannot fill
  the device): the G architectures' feature maps sit side by side along the channel
  dimension, each conv is a grouped convolution with one group per architecture
  using that op on that edge, BN is per channel anyway, and pooling is per channel.
  Passes over architectures in ``arch_code`` order keep the last edges' ops shared
  by the whole group, so those edges need no gathering.

Exactness. With G = 1 on a CPU every operation is the one the built network runs,
or one checked to give the same bits (1×1 convs as matmuls, channels-last average
pooling): NASWOT's K equals the built network's. Grouped convolutions (G > 1, or a
GPU's own kernels) may sum in another order, which flips the sign of activations
within rounding of 0; measured on CPU with reordered convs, that moves NASWOT by
1e-8 to 1.3e-7 relative, inside the 1e-6 the benchmark asserts. Synflow is float64
throughout and agrees to ~1e-15.

NASWOT is "higher is better"; −inf for a singular kernel. Synflow's sum is
returned raw (its log is the score).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tfnas.costs import KERNEL, STAGE_CHANNELS, N
from tfnas.init_weights import InitStream, Layer, layers, small_tensor
from tfnas.space import EDGES, OPS, Arch

BN_EPS = 1e-5  # nn.BatchNorm2d's default


def kernel_from_gram(gram: torch.Tensor, units: int | torch.Tensor) -> torch.Tensor:
    """NASWOT's K = Σ c cᵀ + (1 − c)(1 − c)ᵀ from G = Σ c cᵀ and N_A = Σ units.

    Σ_u (1 − c_iu)(1 − c_ju) = N_A − d_i − d_j + G_ij with d = diag(G) (each code's
    number of ones), so K = 2G − d 1ᵀ − 1 dᵀ + N_A: one matmul per ReLU instead of two.
    """
    d = gram.diagonal(dim1=-2, dim2=-1)
    return 2 * gram - d.unsqueeze(-1) - d.unsqueeze(-2) + units


def live_cell(ops: tuple[str, ...], input_is_zero: bool) -> tuple[tuple[str, ...], list[int], bool]:
    """Drop the edges of a cell that read an exactly-zero node.

    Returns the cell's ops with such edges set to ``none``, the number of dropped
    conv edges per source node (their ReLUs see zeros: all-0 codes that still count
    in NASWOT's K), and whether the cell's output (node 3) is exactly zero.
    """
    live, dead_convs = list(ops), [0, 0, 0]
    zero = [input_is_zero]
    for target in (1, 2, 3):
        into = [k for k, (t, _) in enumerate(EDGES) if t == target]
        for k in into:
            source = EDGES[k][1]
            if zero[source] and live[k] != "none":
                dead_convs[source] += live[k] in KERNEL
                live[k] = "none"
        zero.append(all(live[k] == "none" for k in into))
    return tuple(live), dead_convs, zero[3]


class Group:
    """G architectures scored in one pass: per cell, which op each architecture runs on
    each edge (after dropping reads of zero nodes), and every architecture's layers."""

    def __init__(self, archs: list[Arch], num_classes: int):
        self.archs = archs
        self.layers = [layers(arch, num_classes) for arch in archs]
        cells = []  # cells[i][g] = (live ops, dead conv reads per source) of arch g in cell i
        for arch in archs:
            ops, dead, output_is_zero = live_cell(arch.ops, input_is_zero=False)
            rest = live_cell(arch.ops, input_is_zero=True)[:2] if output_is_zero else (ops, dead)
            cells.append([(ops, dead)] + [rest] * (3 * N - 1))
        self.cells = [list(per_cell) for per_cell in zip(*cells, strict=True)]

    def __len__(self) -> int:
        return len(self.archs)


class _Indices:
    """Device index tensors of architecture subsets, uploaded once per subset."""

    def __init__(self, groups: int, device: torch.device):
        self.groups, self.device = groups, device
        self._cache: dict[tuple[int, ...], torch.Tensor] = {}

    def __call__(self, archs: list[int]) -> torch.Tensor:
        key = tuple(archs)
        if key not in self._cache:
            self._cache[key] = small_tensor(archs, self.device)
        return self._cache[key]

    def select(self, x: torch.Tensor, archs: list[int]) -> torch.Tensor:
        """The channels of architectures ``archs`` of a [B, G·C, H, W] map."""
        if len(archs) == self.groups:
            return x
        b, gc, h, w = x.shape
        parts = x.view(b, self.groups, gc // self.groups, h, w)
        return parts.index_select(1, self(archs)).view(b, -1, h, w)


class _NodeSum:
    """node_j = Σ_i op_ij(node_i), summed in edge order like the built network; each
    architecture's term lands in its own channels. Never writes into an input map."""

    def __init__(self, indices: _Indices):
        self.indices, self.value, self.owned = indices, None, False

    def add(self, y: torch.Tensor, archs: list[int]) -> None:
        groups = self.indices.groups
        if len(archs) == groups:
            self.value, self.owned = (y, False) if self.value is None else (self.value + y, True)
            return
        b, _, h, w = y.shape
        if self.value is None:
            self.value = y.new_zeros(b, groups * (y.shape[1] // len(archs)), h, w)
        elif not self.owned:
            self.value = self.value.clone()
        self.owned = True
        parts = self.value.view(b, groups, -1, h, w)
        parts.index_add_(1, self.indices(archs), y.view(b, len(archs), -1, h, w))


class _Codes:
    """Accumulates NASWOT's Σ c cᵀ (float64, G×B×B) and N_A per architecture."""

    def __init__(self, indices: _Indices, batch: int):
        groups, device = indices.groups, indices.device
        self.indices = indices
        self.gram = torch.zeros(groups, batch, batch, dtype=torch.float64, device=device)
        self.units = [0] * groups

    def add(self, relu_input: torch.Tensor, counts: list[int]) -> None:
        """Codes of a ReLU input [B, G·C, H, W], counted ``counts[g]`` times for arch g."""
        archs = [g for g, m in enumerate(counts) if m]
        if not archs:
            return
        x = self.indices.select(relu_input, archs)
        codes = torch.gt(x, 0, out=x.new_empty(x.shape)).view(x.shape[0], len(archs), -1)
        if len(archs) == 1:
            gram = (codes[:, 0] @ codes[:, 0].T).unsqueeze(0)
        else:
            codes = codes.transpose(0, 1)  # [G', B, n]
            gram = torch.bmm(codes, codes.transpose(1, 2))
        weights = [counts[g] for g in archs]
        if len(set(weights)) == 1:
            gram = gram.double().mul_(weights[0])
        else:
            m = small_tensor(weights, x.device, torch.float64)
            gram = gram.double().mul_(m[:, None, None])
        if len(archs) == self.indices.groups:
            self.gram += gram
        else:
            self.gram.index_add_(0, self.indices(archs), gram)
        for g in archs:
            self.units[g] += counts[g] * codes.shape[-1]

    def add_zero_units(self, units: list[int]) -> None:
        """ReLUs that see an exactly-zero map: all-0 codes, ``units[g]`` of them for arch g."""
        self.units = [a + b for a, b in zip(self.units, units, strict=True)]

    def kernels(self) -> torch.Tensor:
        """K = Σ c cᵀ + (1 − c)(1 − c)ᵀ = 2G − d 1ᵀ − 1 dᵀ + N_A, G×B×B float64."""
        units = small_tensor(self.units, self.gram.device, torch.float64)
        return kernel_from_gram(self.gram, units[:, None, None])


def _conv2d(x: torch.Tensor, weight: torch.Tensor, stride: int, groups: int) -> torch.Tensor:
    if weight.shape[-1] == 1 and stride == 1:
        # A 1×1 convolution is a matmul per architecture: [G, C', C] @ [B, G, C, H·W]. On the
        # CPU it is ~10× faster than the NCHW 1×1 kernel and sums in the same order (the
        # tests compare the kernel K with the built network's).
        b, _, h, w = x.shape
        out = torch.matmul(weight.view(groups, -1, weight.shape[1]), x.view(b, groups, -1, h * w))
        return out.view(b, -1, h, w)
    return F.conv2d(x, weight, stride=stride, padding=weight.shape[-1] // 2, groups=groups)


def _avg_pool3(x: torch.Tensor) -> torch.Tensor:
    if x.device.type == "cpu":
        # The CPU's channels-last kernel is ~5× faster and sums each window in the same
        # order as the NCHW kernel (bit-identical output).
        x = x.contiguous(memory_format=torch.channels_last)
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False).contiguous()
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class _Pass:
    """One forward pass of a :class:`Group`, for NASWOT (float32, train-mode BN, ReLU codes)
    or for Synflow (float64 (v, d) pairs, |θ|, no BN, ReLU = identity)."""

    def __init__(self, group: Group, stream: InitStream, codes: _Codes | None = None):
        self.group, self.stream, self.codes = group, stream, codes
        self.synflow = codes is None
        self.g = len(group)
        self.indices = _Indices(self.g, stream.device) if codes is None else codes.indices

    def conv_bn(self, x: torch.Tensor, name: str, archs: list[int], stride: int = 1,
                bn: bool = True) -> torch.Tensor:
        """Conv (one group per arch in ``archs``) then train-mode BN; the ReLU is the caller's."""
        chosen: list[Layer] = [self.group.layers[g][name] for g in archs]
        weight = self.stream.stacked(chosen, absolute=self.synflow)
        if self.synflow:
            return _conv2d(x.cumsum(0), weight, stride, len(archs))  # (v, d) → (Wv, W(v + d))
        y = _conv2d(x, weight, stride, len(archs))
        return F.batch_norm(y, None, None, training=True, eps=BN_EPS) if bn else y

    def relu(self, x: torch.Tensor, counts: list[int]) -> torch.Tensor:
        """ReLU of a map read by ``counts[g]`` ReLUs of arch g (their codes enter K)."""
        if self.synflow:
            return x  # every activation is ≥ 0
        self.codes.add(x, counts)
        return torch.relu(x)

    def cell(self, x: torch.Tensor, index: int) -> torch.Tensor:
        ops = [plan[0] for plan in self.group.cells[index]]
        if not self.synflow:
            units = x[0].numel() // self.g  # C·H·W: the units of one architecture's node
            self.codes.add_zero_units([units * sum(plan[1]) for plan in self.group.cells[index]])
        select = self.indices.select
        nodes: list[torch.Tensor | None] = [x]
        relus: dict[int, torch.Tensor] = {}
        for target in (1, 2, 3):
            node = _NodeSum(self.indices)
            for k, (t, source) in enumerate(EDGES):
                if t != target:
                    continue
                for op in OPS[1:]:  # "none" adds nothing
                    archs = [g for g in range(self.g) if ops[g][k] == op]
                    if not archs:
                        continue
                    if op in KERNEL:
                        if source not in relus:  # one ReLU (and one set of codes) per node
                            counts = [sum(o[j] in KERNEL for j, (_, s) in enumerate(EDGES)
                                          if s == source) for o in ops]
                            relus[source] = self.relu(nodes[source], counts)
                        y = self.conv_bn(select(relus[source], archs), f"cell{index}.edge{k}",
                                         archs)
                    elif op == "avg_pool_3x3":
                        y = _avg_pool3(select(nodes[source], archs))
                    else:  # skip_connect
                        y = select(nodes[source], archs)
                    node.add(y, archs)
            nodes.append(node.value)
        return torch.zeros_like(x) if nodes[3] is None else nodes[3]

    def reduction(self, x: torch.Tensor, stage: int) -> torch.Tensor:
        every = list(range(self.g))
        a = self.conv_bn(self.relu(x, [1] * self.g), f"reduce{stage}.conv_a", every, stride=2)
        b = self.conv_bn(self.relu(a, [1] * self.g), f"reduce{stage}.conv_b", every)
        shortcut = self.conv_bn(F.avg_pool2d(x, 2, 2), f"reduce{stage}.shortcut", every, bn=False)
        return shortcut + b

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, cells and reductions; ``x`` is the image batch (NASWOT) or the (1, 0) pair."""
        stem = self.conv_bn(x, "stem", [0])  # the stem's weights are the same for every arch
        x = stem.repeat(1, self.g, 1, 1)
        cell = 0
        for stage in range(len(STAGE_CHANNELS)):
            if stage > 0:
                x = self.reduction(x, stage)
            for _ in range(N):
                x = self.cell(x, cell)
                cell += 1
        return x


def naswot_kernels(group: Group, batch: torch.Tensor, stream: InitStream) -> torch.Tensor:
    """NASWOT's K (G×B×B, float64, exact integers) of every architecture of ``group``."""
    codes = _Codes(_Indices(len(group), stream.device), batch.shape[0])
    with torch.inference_mode():
        x = _Pass(group, stream, codes).body(batch)
        # lastact: BN → ReLU; what follows (pooling, classifier) makes no codes.
        codes.add(F.batch_norm(x, None, None, training=True, eps=BN_EPS), [1] * len(group))
        return codes.kernels()


def synflow_sums(group: Group, input_shape: tuple[int, int, int], stream: InitStream
                 ) -> torch.Tensor:
    """Σ θ ⊙ ∂R/∂θ over conv and linear weights (float64, one per architecture)."""
    with torch.inference_mode():
        ones = torch.ones((1, *input_shape), dtype=torch.float64, device=stream.device)
        x = _Pass(group, stream).body(torch.cat([ones, 0 * ones]))
        pooled = F.adaptive_avg_pool2d(x, 1).flatten(1).cumsum(0)[1]  # v + d, [G·64]
        weights = torch.stack([stream.abs64(layers["classifier.weight"])
                               for layers in group.layers])
        # the classifier's d-output is W (v + d); its bias is not a weight and scales by α⁰
        return (weights * pooled.view(len(group), 1, -1)).sum((1, 2))
