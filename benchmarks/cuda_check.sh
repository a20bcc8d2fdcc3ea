#!/usr/bin/env bash
# The CUDA checks, prepared to run on one GPU machine in under 10 minutes, from the repository
# root after `pip install -e .`: the throughput benchmark on CUDA, a shortened paper preset
# (3x2000, one seed, 300k characters for each of its arms), and a run
# checkpointed on CUDA that continues on the CPU. Everything lands in $OUT (default runs/cuda-check).
#
#     bash benchmarks/cuda_check.sh
set -euo pipefail
OUT="${OUT:-runs/cuda-check}"
mkdir -p "$OUT"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" \
  | tee "$OUT/device.txt"

# 1. throughput on CUDA (and the CPU beside it, for the ratio)
timeout 240 python benchmarks/throughput.py --devices cuda,cpu --streams 64,1024,16384 --seconds 1 \
  | tee "$OUT/throughput.txt" || echo "throughput: stopped at its time limit" | tee -a "$OUT/throughput.txt"

# 2. the paper preset, shortened: every arm, one seed, 300k characters (a tenth), on the GPU
SECONDS=0
timeout 240 charff reproduce --preset paper --device cuda --seeds 0 --set train.chars=300000 \
  --set train.eval_every=100000 --yes --out "$OUT/paper-short" | tee "$OUT/paper-short.txt" \
  || echo "paper preset: stopped at its time limit" | tee -a "$OUT/paper-short.txt"
echo "paper preset, shortened: ${SECONDS} s" | tee -a "$OUT/paper-short.txt"

# 3. a run checkpointed on CUDA continues on the CPU
timeout -s INT 30 charff train --device cuda --set train.chars=400000 --set train.eval_every=20000 \
  --set "model.hidden=[256,256,256]" --out "$OUT/moved" || true
charff train --resume "$OUT/moved" --device cpu | tee "$OUT/moved.txt"
