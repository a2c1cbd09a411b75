#!/usr/bin/env bash
# The GPU throughput check, one command (run from the repository root on a CUDA machine):
#   bash benchmarks/gpu_check.sh
# 1. the engine's CPU tests on this machine's torch build (init-stream weights, engine = proxies);
# 2. the benchmark on the GPU, baseline vs engine on a seeded sample, grouped (32 archs per pass)
#    and one architecture per pass; synthetic CIFAR-10-shaped batch of 128 (timing does not
#    depend on pixel values);
# 3. the engine alone over the whole space in arch_code order, 125 architectures per pass
#    (NASWOT + Synflow + params + FLOPs), stopped after MAX_SECONDS and projected to 15,625.
# Logs go to $OUT (default /tmp/gpu_check).
set -uo pipefail
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_check}
MAX_SECONDS=${MAX_SECONDS:-150}
mkdir -p "$OUT"
PY=${PYTHON:-python3}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
torch.cuda.get_device_name(0))" 2>&1 | tee -a "$OUT/gpu.txt"

$PY -m pytest -q -p no:cacheprovider tests/test_engine.py tests/test_throughput.py 2>&1 \
  | tail -5 | tee "$OUT/tests.txt"

$PY benchmarks/score_throughput.py --device cuda --archs 64 --group 32 --threads 8 2>&1 \
  | tee "$OUT/benchmark_group32.txt"
$PY benchmarks/score_throughput.py --device cuda --archs 16 --group 1 --threads 8 2>&1 \
  | tee "$OUT/benchmark_group1.txt"

$PY - "$MAX_SECONDS" <<'EOF' 2>&1 | tee "$OUT/space.txt"
import sys, time
import torch
from tfnas.scoring import score_archs
from tfnas.space import NUM_ARCHS, Arch

limit, group = float(sys.argv[1]), 125
torch.set_num_threads(8)
batch = torch.randn(128, 3, 32, 32, generator=torch.Generator().manual_seed(0)).cuda()
score_archs([Arch.from_code(0)], "cifar10", batch, device="cuda")  # warm-up
torch.cuda.synchronize()
start, done, seconds = time.perf_counter(), 0, {}
for first in range(0, NUM_ARCHS, group):
    archs = [Arch.from_code(c) for c in range(first, min(first + group, NUM_ARCHS))]
    for result in score_archs(archs, "cifar10", batch, device="cuda"):
        for proxy, (score, sec) in result.items():
            seconds[proxy] = seconds.get(proxy, 0.0) + sec
            assert score == score, f"NaN {proxy}"
    done += len(archs)
    elapsed = time.perf_counter() - start
    if done % 1000 < group:
        print(f"{done} archs in {elapsed:.1f} s", flush=True)
    if elapsed > limit:
        break
elapsed = time.perf_counter() - start
print(f"whole-space pass (cifar10, batch 128, {group} archs per pass, all four proxies): "
      f"{done} of {NUM_ARCHS} archs in {elapsed:.1f} s = {1e3 * elapsed / done:.2f} ms/arch "
      f"-> all {NUM_ARCHS} in {elapsed / done * NUM_ARCHS / 60:.2f} min on "
      f"{torch.cuda.get_device_name(0)}; peak GPU memory "
      f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
print("per-proxy seconds per arch:", {p: round(s / done * 1e3, 3) for p, s in seconds.items()},
      "(ms)")
EOF
