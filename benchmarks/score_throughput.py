"""Scoring throughput: the straightforward implementation against the project's engine.

Both score the same seeded sample of architectures, with the same batch and the
same seed, in one process, alternating chunk by chunk (so load from other work on
the machine hits both alike). The run fails unless both give the same scores:
NASWOT within 1e-6 relative, Synflow within 1e-9 relative (−inf equal to −inf),
params and FLOPs exactly (the baseline counts them on the built network, the
engine uses the closed forms). Timed: NASWOT + Synflow per architecture.

    python benchmarks/score_throughput.py --dataset cifar10 --batch-size 128 \\
        --archs 40 --threads 2 --data ../shared/data/images/cifar10_sample.npz

Without ``--data`` the batch is synthetic (seeded N(0, 1) "normalised pixels" of
the dataset's shape): timing does not depend on pixel values.
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import random
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tfnas.config import ScoringConfig  # noqa: E402
from tfnas.datasets import DATASETS, Batch, dataset_spec, sample_batch  # noqa: E402
from tfnas.network import build_network, count_flops, count_params  # noqa: E402
from tfnas.proxies import ScoringRun  # noqa: E402
from tfnas.proxies.naswot import no_tf32  # noqa: E402
from tfnas.proxies.synflow import without_batchnorm  # noqa: E402
from tfnas.scoring import score_archs  # noqa: E402
from tfnas.space import NUM_ARCHS, Arch  # noqa: E402

TOLERANCE = {"naswot": 1e-6, "synflow": 1e-9, "params": 0.0, "flops": 0.0}


# ---- the straightforward implementation (the baseline), written plainly ----

def plain_naswot(arch: Arch, num_classes: int, batch: torch.Tensor, seed: int) -> float:
    """Build the network, hook every ReLU, K += c cᵀ + (1−c)(1−c)ᵀ in float64, slogdet."""
    net = build_network(arch, num_classes, seed=seed).to(batch.device)
    kernel = torch.zeros(len(batch), len(batch), dtype=torch.float64, device=batch.device)

    def hook(module, inputs, output):
        c = (inputs[0].flatten(1) > 0).double()
        kernel.add_(c @ c.T + (1 - c) @ (1 - c).T)

    for module in net.modules():
        if isinstance(module, nn.ReLU):
            module.register_forward_hook(hook)
    net.train()
    net(batch)  # one forward pass, autograd on
    sign, logdet = torch.linalg.slogdet(kernel.cpu())
    return logdet.item() if sign.item() != 0 and math.isfinite(logdet.item()) else -math.inf


def plain_synflow(arch: Arch, num_classes: int, image_size: int, seed: int,
                  device: torch.device) -> float:
    """Σ θ ⊙ ∂R/∂θ on a BN-free float64 deep copy with |θ| and an all-ones input; its log."""
    net = without_batchnorm(copy.deepcopy(build_network(arch, num_classes, seed=seed)))
    net = net.double().to(device)
    with torch.no_grad():
        for param in net.parameters():
            param.abs_()
    ones = torch.ones(1, 3, image_size, image_size, dtype=torch.float64, device=device)
    net(ones).sum().backward()
    total = sum((m.weight * m.weight.grad).sum().item()
                for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    return math.log(total) if total > 0 else -math.inf


def plain_scores(arch: Arch, dataset: str, batch: torch.Tensor, seed: int) -> dict[str, float]:
    spec = dataset_spec(dataset)
    return {
        "naswot": plain_naswot(arch, spec.num_classes, batch, seed),
        "synflow": plain_synflow(arch, spec.num_classes, spec.image_size, seed, batch.device),
    }


def plain_costs(arch: Arch, dataset: str) -> dict[str, float]:
    spec = dataset_spec(dataset)
    net = build_network(arch, spec.num_classes, seed=0)
    return {"params": count_params(net), "flops": count_flops(net, spec.image_size)}


# ---- the comparison ----

def deviation(a: float, b: float) -> float:
    """Relative difference; 0 for equal infinities, inf for an infinity against a number."""
    if math.isinf(a) or math.isinf(b):
        return 0.0 if a == b else math.inf
    return abs(a - b) / max(abs(a), abs(b)) if a != b else 0.0


def sample_archs(n: int, seed: int) -> list[Arch]:
    """``n`` distinct architectures, drawn uniformly with ``random.Random(seed)``."""
    return [Arch.from_code(code) for code in random.Random(seed).sample(range(NUM_ARCHS), n)]


def make_batch(dataset: str, batch_size: int, seed: int, data: str | None) -> tuple[Batch, str]:
    spec = dataset_spec(dataset)
    if data is not None:
        batch = sample_batch(spec, data, ScoringConfig(seed, batch_size))
        return batch, f"{data} (fingerprint {batch.fingerprint})"
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, 3, spec.image_size, spec.image_size, generator=generator)
    return Batch(images, torch.zeros(batch_size, dtype=torch.long), "synthetic"), \
        "synthetic N(0, 1)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(dataset: str = "cifar10", batch_size: int = 128, archs: int = 20, device: str = "cpu",
        threads: int = 2, group: int = 1, seed: int = 0, data: str | None = None,
        out=sys.stdout) -> dict[str, float]:
    """Run the comparison; raise ``AssertionError`` on any score mismatch (after the timings).

    Returns seconds per architecture (NASWOT + Synflow) of ``baseline`` and ``engine``.
    ``group`` architectures share one engine pass (GPU); the baseline scores each alone.
    """
    if group < 1 or archs < 1:
        raise ValueError("--archs and --group must be positive integers")
    torch.set_num_threads(threads)
    device = torch.device(device)
    batch, source = make_batch(dataset, batch_size, seed, data)
    images = batch.images.to(device)
    run_ = ScoringRun(dataset_spec(dataset), seed, str(device), batch)
    sample = sample_archs(archs, seed)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"device {device} ({name or platform.machine()}), torch {torch.__version__}, "
          f"{threads} threads; {dataset}, batch {batch_size} from {source}, seed {seed}; "
          f"{archs} architectures, engine group {group}", file=out)

    # warm-up outside the timing: allocator, cuDNN heuristics, the engine's init streams
    plain_scores(sample[0], dataset, images[:2], seed)
    score_archs(sample[:1], run_, ("naswot", "synflow"))

    spent = {"baseline": 0.0, "engine": 0.0}
    worst = dict.fromkeys(TOLERANCE, 0.0)
    mismatches = []
    chunks = [sample[i:i + group] for i in range(0, archs, group)]
    with no_tf32():
        for number, chunk in enumerate(chunks):
            results = {}
            order = ("baseline", "engine") if number % 2 == 0 else ("engine", "baseline")
            for who in order:
                _sync(device)
                start = time.perf_counter()
                if who == "baseline":
                    results[who] = [plain_scores(a, dataset, images, seed) for a in chunk]
                else:
                    results[who] = [{p: s.score for p, s in r.items()} for r in score_archs(
                        chunk, run_, ("naswot", "synflow"))]
                _sync(device)
                spent[who] += time.perf_counter() - start
            costs = score_archs(chunk, run_, ("params", "flops"))
            for arch, plain, fast, cost in zip(chunk, results["baseline"], results["engine"],
                                               costs, strict=True):
                plain |= plain_costs(arch, dataset)
                fast |= {p: s.score for p, s in cost.items()}
                for proxy, tolerance in TOLERANCE.items():
                    worst[proxy] = max(worst[proxy], deviation(plain[proxy], fast[proxy]))
                    if deviation(plain[proxy], fast[proxy]) > tolerance:
                        mismatches.append(f"{arch}: {proxy} baseline {plain[proxy]!r} "
                                          f"engine {fast[proxy]!r}")
            print(f"  {min((number + 1) * group, archs)}/{archs} architectures: baseline "
                  f"{spent['baseline']:.1f} s, engine {spent['engine']:.1f} s", file=out,
                  flush=True)
    per_arch = {who: seconds / archs for who, seconds in spent.items()}
    for who, seconds in per_arch.items():
        print(f"{who:>9}: {seconds:8.4f} s/arch (NASWOT + Synflow) -> all {NUM_ARCHS:,} "
              f"archs in {seconds * NUM_ARCHS / 3600:6.2f} h ({seconds * NUM_ARCHS / 60:7.1f} min)",
              file=out)
    print(f"speed-up: {per_arch['baseline'] / per_arch['engine']:.2f}x", file=out)
    print("largest relative difference engine vs baseline: "
          + ", ".join(f"{proxy} {value:.1e}" for proxy, value in worst.items()), file=out)
    if mismatches:
        raise AssertionError(f"{len(mismatches)} score mismatches:\n" + "\n".join(mismatches))
    print(f"scores identical within tolerance for all {archs} architectures "
          "(NASWOT 1e-6, Synflow 1e-9 relative; params, FLOPs exact)", file=out)
    return per_arch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="cifar10", choices=sorted(DATASETS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--archs", type=int, default=20, help="architectures in the sample")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--group", type=int, default=1,
                        help="architectures per engine pass (GPU: e.g. 32)")
    parser.add_argument("--seed", type=int, default=0, help="init seed, batch and sample seed")
    parser.add_argument("--data", help="dataset root or .npz sample; default: synthetic batch")
    args = parser.parse_args(argv)
    run(args.dataset, args.batch_size, args.archs, args.device, args.threads, args.group,
        args.seed, args.data)


if __name__ == "__main__":
    main()
