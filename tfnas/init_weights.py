"""The seeded initial weights of a TSS network, without building the network.

:func:`tfnas.network.build_network` with ``seed`` draws every weight from one
random stream: ``torch.manual_seed(seed)``, then each ``Conv2d`` and the
``Linear`` classifier initialise in construction order (stem, cells edge by edge,
each reduction's conv_a, conv_b and shortcut conv, classifier weight, classifier
bias) with PyTorch's default ``kaiming_uniform_(a=√5)``; BatchNorm starts at
weight 1, bias 0 and draws nothing. ``uniform_`` turns the k-th draw of the stream
into the k-th element, so a layer's weights are the draws at its offset, scaled to
its bound, and the bound depends only on the layer's fan-in.

:class:`InitStream` draws each fan-in's stream once per seed (running PyTorch's own
init on a tensor of that fan-in) and hands every architecture views into it: the
weights are bit-identical to ``build_network(arch, classes, seed=seed)`` (tested),
at no per-architecture cost. That makes scoring thousands of architectures on a
GPU possible without building a network on the CPU for each.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.nn import init

from tfnas.costs import KERNEL, STAGE_CHANNELS, C, N
from tfnas.space import Arch

BIAS = "bias"  # the classifier bias's stream key; every other key is a fan-in


@dataclass(frozen=True)
class Layer:
    """One weight tensor of the network: where its draws start and how it is shaped."""

    name: str  # "stem", "cell{i}.edge{k}", "reduce{r}.conv_a|conv_b|shortcut", "classifier.*"
    shape: tuple[int, ...]
    key: int | str  # fan-in, or BIAS
    offset: int  # position of its first draw in the seed's stream

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def _shapes(arch: Arch, num_classes: int) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Every drawn tensor of ``arch``'s network, in construction order."""
    yield "stem", (C, 3, 3, 3)
    cell = 0
    for stage, channels in enumerate(STAGE_CHANNELS):
        if stage > 0:
            c_in = channels // 2
            yield f"reduce{stage}.conv_a", (channels, c_in, 3, 3)
            yield f"reduce{stage}.conv_b", (channels, channels, 3, 3)
            yield f"reduce{stage}.shortcut", (channels, c_in, 1, 1)
        for _ in range(N):
            for k, op in enumerate(arch.ops):
                if op in KERNEL:
                    yield f"cell{cell}.edge{k}", (channels, channels, KERNEL[op], KERNEL[op])
            cell += 1
    yield "classifier.weight", (num_classes, STAGE_CHANNELS[-1])
    yield "classifier.bias", (num_classes,)


def layers(arch: Arch, num_classes: int) -> dict[str, Layer]:
    """The drawn tensors of ``arch``'s network by name, with their stream offsets."""
    out, offset = {}, 0
    for name, shape in _shapes(arch, num_classes):
        key = BIAS if name == "classifier.bias" else math.prod(shape[1:])
        out[name] = Layer(name, shape, key, offset)
        offset += out[name].numel
    return out


def stream_length(num_classes: int) -> int:
    """Draws of the largest network (every edge a 3×3 conv): an upper bound for every arch."""
    return sum(layer.numel for layer in layers(Arch(("nor_conv_3x3",) * 6), num_classes).values())


def small_tensor(values: list[int] | list[float], device: torch.device,
                 dtype: torch.dtype = torch.int64) -> torch.Tensor:
    """A short host list on ``device``; on CUDA through pinned memory, so the copy does not
    wait for the work already queued on the GPU (a pageable copy would)."""
    tensor = torch.tensor(values, dtype=dtype)
    return tensor.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else tensor


class InitStream:
    """The initial weights of every TSS network for one (seed, number of classes).

    ``weight(layer)`` is the float32 tensor ``build_network`` would hold;
    ``abs64(layer)`` its absolute value in float64 (Synflow's weights). Streams are
    drawn on the CPU (the generator ``build_network`` uses) and kept on ``device``.
    """

    def __init__(self, seed: int, num_classes: int, device: str | torch.device = "cpu"):
        self.seed, self.num_classes, self.device = seed, num_classes, torch.device(device)
        self.length = stream_length(num_classes)
        self._streams: dict[tuple[int | str, torch.dtype], torch.Tensor] = {}

    def stream(self, key: int | str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The seed's draws, scaled as a layer of fan-in ``key`` (or the bias) scales them."""
        if (key, torch.float32) not in self._streams:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                if key == BIAS:
                    bound = 1 / math.sqrt(STAGE_CHANNELS[-1])  # nn.Linear's bias init
                    drawn = init.uniform_(torch.empty(self.length), -bound, bound)
                else:
                    rows = -(-self.length // key)
                    drawn = init.kaiming_uniform_(torch.empty(rows, key), a=math.sqrt(5))
            self._streams[key, torch.float32] = drawn.flatten()[: self.length].to(self.device)
        if (key, dtype) not in self._streams:
            self._streams[key, dtype] = self._streams[key, torch.float32].abs().to(dtype)
        return self._streams[key, dtype]

    def weight(self, layer: Layer) -> torch.Tensor:
        """``layer``'s initial float32 weights (a view into the stream)."""
        draws = self.stream(layer.key)[layer.offset: layer.offset + layer.numel]
        return draws.view(layer.shape)

    def abs64(self, layer: Layer) -> torch.Tensor:
        """|``layer``'s initial weights| in float64 (a view into the stream)."""
        draws = self.stream(layer.key, torch.float64)[layer.offset: layer.offset + layer.numel]
        return draws.view(layer.shape)

    def stacked(self, layers_: list[Layer], absolute: bool = False) -> torch.Tensor:
        """Same-shaped layers of several architectures concatenated along the output channels
        (the weight of a grouped convolution with one group per architecture)."""
        if len(layers_) == 1:
            return self.abs64(layers_[0]) if absolute else self.weight(layers_[0])
        first = layers_[0]
        stream = self.stream(first.key, torch.float64 if absolute else torch.float32)
        offsets = small_tensor([layer.offset for layer in layers_], self.device)
        windows = stream.unfold(0, first.numel, 1)  # windows[o] = stream[o : o + numel], a view
        return windows[offsets].view(len(layers_) * first.shape[0], *first.shape[1:])
