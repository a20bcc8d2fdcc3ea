#!/usr/bin/env bash
# The CUDA checks, prepared to run on one GPU machine in under 10 minutes, from the repository
# root after `pip install -e .`: the throughput benchmark on CUDA, a shortened paper preset
# (3x2000, one seed, 600k characters for each of its arms: the shortest length at which every
# arm still has a sleep phase, since one arm warms up for 250k and then wakes for 250k), and a
# run checkpointed on CUDA that continues on the CPU. Everything lands in $OUT (default
# runs/cuda-check). A step that fails or runs out of time fails the script.
#
#     bash benchmarks/cuda_check.sh                       # on a GPU machine
#     bash benchmarks/cuda_check.sh --device cpu --tiny   # the same steps at toy size (CI runs this)
set -euo pipefail
DEVICE=cuda
TINY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --tiny) TINY=1; shift ;;
    *) echo "usage: bash benchmarks/cuda_check.sh [--device cuda|cpu] [--tiny]" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-runs/cuda-check}"
mkdir -p "$OUT"
if [ "$TINY" = 1 ]; then
  # toy sizes: the same commands, seconds instead of minutes; the bundled corpus, no download
  BENCH=(--widths 16 --streams 64 --seconds 0.2)
  PRESET=(--corpus fables --set "model.hidden=[8,8,8]" --set train.streams=512 --set train.eval_every=300000
          --set train.eval_goodness_chars=64)
  MOVED=(--set train.chars=60000 --set train.eval_every=2000 --set "model.hidden=[16,16]")
  LIMIT=120
else
  BENCH=(--streams 64,1024,16384 --seconds 1)
  PRESET=(--set train.eval_every=100000)
  MOVED=(--set train.chars=200000 --set train.eval_every=20000 --set "model.hidden=[256,256,256]")
  LIMIT=240
fi
if [ "$DEVICE" = cuda ]; then
  python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" \
    | tee "$OUT/device.txt"
fi

# 1. throughput on the device (and the CPU beside it, for the ratio)
DEVICES="$DEVICE"; [ "$DEVICE" != cpu ] && DEVICES="$DEVICE,cpu"
timeout "$LIMIT" python benchmarks/throughput.py --devices "$DEVICES" "${BENCH[@]}" | tee "$OUT/throughput.txt"

# 2. the paper preset, shortened: every arm, one seed, 600k characters
SECONDS=0
timeout "$LIMIT" charff reproduce --preset paper --device "$DEVICE" --seeds 0 --set train.chars=600000 \
  "${PRESET[@]}" --yes --out "$OUT/paper-short" | tee "$OUT/paper-short.txt"
echo "paper preset, shortened: ${SECONDS} s" | tee -a "$OUT/paper-short.txt"

# 3. a run checkpointed on the device continues on the CPU: stopped by SIGINT (which checkpoints)
#    once its first checkpoint exists, then resumed on the CPU to the end
rm -rf "$OUT/moved"
charff train --device "$DEVICE" "${MOVED[@]}" --out "$OUT/moved" > "$OUT/moved-start.txt" 2>&1 &
pid=$!
for _ in $(seq 1200); do [ -f "$OUT/moved/checkpoint.pt" ] && break; sleep 0.1; done
kill -INT "$pid" 2>/dev/null || true
status=0
wait "$pid" || status=$?
[ "$status" = 130 ] || { echo "the run to move did not stop on SIGINT after its first checkpoint ($status)"; exit 1; }
charff train --resume "$OUT/moved" --device cpu | tee "$OUT/moved.txt"
echo "cuda_check: every step passed on $DEVICE"
