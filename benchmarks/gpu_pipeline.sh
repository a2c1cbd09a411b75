#!/usr/bin/env bash
# The main job on a GPU host: `luigi --module pipeline ScoreAll` for all 15,625 architectures
# and all four proxies, on each dataset, timed. Run from the repository root:
#   DATA=../shared/data bash benchmarks/gpu_pipeline.sh
# DATA holds cifar10_sample.npz, imagenet16_sample.npz and nats_tss_accuracy.csv. CIFAR-100
# is scored on the CIFAR-10 sample's images with CIFAR-100 normalisation (the CIFAR-100 sample
# has only 120 images, fewer than a 128-image batch). Writes the database and logs to $OUT.
set -uo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-/tmp/gpu_pipeline}
WORK=${WORK:-/tmp/gpu_pipeline_db}
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
for spec in cifar10:cifar10_sample.npz ImageNet16-120:imagenet16_sample.npz \
            cifar100:cifar10_sample.npz; do
  dataset=${spec%%:*} images=${spec#*:}
  SECONDS=0
  python3 -m luigi --module pipeline ScoreAll --dataset "$dataset" --data "$DATA/$images" \
    --benchmark "$DATA/nats_tss_accuracy.csv" --db "$WORK/tfnas.duckdb" \
    > "$OUT/$dataset.log" 2>&1
  rc=$?
  echo "$dataset: exit $rc, ${SECONDS} s wall (luigi start, benchmark import, scoring, load)"
  grep -A8 "new rows in" "$OUT/$dataset.log"
  cp "$WORK/tfnas.duckdb" "$OUT/"
done
