#!/usr/bin/env bash
# The GPU checks as one script meant to fit 8 minutes on one H200 (about 7 by the estimates beside
# each step; never run on a GPU yet), from the repository root after
# `pip install .`: step speed by size and matmul precision, the precision's effect on bits/char at
# the paper's size, cells per minute one at a time and side by side on the one GPU, the paper
# preset's arms (shortened, side by side) and a run checkpointed on the GPU that continues on the
# CPU. Every step has its own time limit; a step that fails or runs out of time fails the script.
# It ends by printing one table (also $OUT/table.md). Everything lands in $OUT (default
# runs/cuda-check).
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
TABLE="$OUT/table.md"
if [ "$TINY" = 1 ]; then
  # toy sizes: the same commands, seconds instead of minutes; the bundled corpus, no download
  BENCH=(--widths 16 --streams 64 --seconds 0.2 --kinds interleaved)
  SIZE=(--set corpus.name=fables --set "model.hidden=[8,8,8]" --set train.streams=64 --set train.eval_goodness_chars=64)
  PRECISION_CHARS=20000; CELL_CHARS=4000; CELLS=2; PAPER_CHARS=600000; PAPER_LIMIT=120
  PAPER=(--corpus fables --set "model.hidden=[8,8,8]" --set train.streams=512 --set train.eval_every=300000
         --set train.eval_goodness_chars=64)
  MOVED=(--set train.chars=60000 --set train.eval_every=2000 --set "model.hidden=[16,16]")
  SHORT=60; LONG=120
else
  BENCH=(--streams 64,1024,16384 --seconds 1 --kinds interleaved)
  SIZE=(--set "model.hidden=[2000,2000,2000]" --set train.streams=1024 --set train.eval_goodness_chars=4096)
  PRECISION_CHARS=1000000; CELL_CHARS=500000; CELLS=8; PAPER_CHARS=600000; PAPER_LIMIT=180
  PAPER=(--set train.eval_every=300000)
  MOVED=(--set train.chars=200000 --set train.eval_every=20000 --set "model.hidden=[256,256,256]")
  SHORT=90; LONG=150
fi
field() { python -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))" "$@"; }
python -c "import torch; d='$DEVICE'; assert d == 'cpu' or torch.cuda.is_available(), 'no CUDA device'; \
print(torch.cuda.get_device_name(0) if d != 'cpu' else 'cpu', 'torch', torch.__version__)" | tee "$OUT/device.txt"
echo "| check | result |" > "$TABLE"
echo "|---|---|" >> "$TABLE"
echo "| device | $(cat "$OUT/device.txt") |" >> "$TABLE"

# 1. step speed: ms per step and chars/s by size, float32 and TF32 (about 40 s on an H200)
for precision in highest high; do
  timeout "$SHORT" python benchmarks/throughput.py --devices "$DEVICE" --precision "$precision" "${BENCH[@]}" \
    | tee "$OUT/throughput-$precision.txt"
  grep -E '^ +3x' "$OUT/throughput-$precision.txt" | while read -r net streams kind rate ms _; do
    echo "| $net, $streams streams, $kind step, $precision | $ms ms per step, $rate chars/s |" >> "$TABLE"
  done
done

# 2. the precision's effect on bits/char: the same run at float32 and at TF32 (about 60 s)
for precision in highest high; do
  timeout "$SHORT" charff train --device "$DEVICE" "${SIZE[@]}" --set "train.chars=$PRECISION_CHARS" \
    --set "train.eval_every=$PRECISION_CHARS" --set "train.matmul_precision=$precision" \
    --out "$OUT/precision-$precision" > "$OUT/precision-$precision.txt"
  echo "| bits/char after $PRECISION_CHARS chars, $precision (softmax / goodness / product) | $(field \
    "$OUT/precision-$precision/summary.json" \
    "'%.4f / %.4f / %.4f' % (final['softmax_bpc'], final['goodness_bpc'], final['product_bpc'])") |" >> "$TABLE"
done

# 3. cells per minute: two cells one at a time, then CELLS side by side on the one device, one
#    torch thread each (about 1 minute)
cat > "$OUT/cells.toml" <<EOF
description = "cells per minute"
seeds = [0]
budget_minutes = 1000
[base.model]
hidden = [128, 128, 128]
[base.train]
chars = $CELL_CHARS
streams = 1024
negatives = "self_generated"
eval_every = $CELL_CHARS
[arms.interleaved]
"train.schedule" = "interleaved"
EOF
[ "$TINY" = 1 ] && sed -i 's/streams = 1024/streams = 16\neval_streams = 16/; s/hidden = \[128, 128, 128\]/hidden = [8]/' \
  "$OUT/cells.toml"
for workers in 1 "$CELLS"; do
  rm -rf "$OUT/cells-$workers"
  count=$([ "$workers" = 1 ] && echo 2 || echo "$CELLS")
  SECONDS=0
  timeout "$LONG" charff ablate "$OUT/cells.toml" --device "$DEVICE" --workers "$workers" --yes \
    --seeds "$(seq -s, 0 $((count - 1)))" --out "$OUT/cells-$workers" > "$OUT/cells-$workers.txt"
  echo "| $count cells of $CELL_CHARS chars each, $workers at a time | ${SECONDS} s, \
$(python -c "print(f'{$count * 60 / max($SECONDS, 1):.1f}')") cells per minute |" >> "$TABLE"
done

# 4. the paper preset, shortened: every arm, one seed, 600k characters (the shortest at which every
#    arm still has a sleep phase), 8 side by side; past its limit the table says so and the
#    script goes on
SECONDS=0
status=0
timeout "$PAPER_LIMIT" charff reproduce --preset paper --device "$DEVICE" --seeds 0 --set "train.chars=$PAPER_CHARS" \
  "${PAPER[@]}" --workers 8 --yes --out "$OUT/paper-short" > "$OUT/paper-short.txt" || status=$?
ARMS=$(field "$OUT/paper-short/sweep.json" "len(settings)")
if [ "$status" = 0 ]; then
  echo "| paper preset, $ARMS arms x 1 seed x $PAPER_CHARS chars, 8 at a time | ${SECONDS} s; the full preset \
(3 seeds x 3M chars) at this rate: $(python -c "print(f'{$SECONDS * 3 * 5 / 60:.0f}')") min |" >> "$TABLE"
else
  DONE=$(ls "$OUT"/paper-short/*/seed0/summary.json 2>/dev/null | wc -l)
  echo "| paper preset, $ARMS arms x 1 seed x $PAPER_CHARS chars, 8 at a time | $DONE of $ARMS arms \
finished in $PAPER_LIMIT s (status $status) |" >> "$TABLE"
fi

# 5. a run checkpointed on the device continues on the CPU: stopped by SIGINT (which checkpoints)
#    once its first checkpoint exists, then resumed on the CPU to the end (about 30 s)
rm -rf "$OUT/moved"
charff train --device "$DEVICE" "${MOVED[@]}" --out "$OUT/moved" > "$OUT/moved-start.txt" 2>&1 &
pid=$!
for _ in $(seq 1200); do [ -f "$OUT/moved/checkpoint.pt" ] && break; sleep 0.1; done
kill -INT "$pid" 2>/dev/null || true
status=0
wait "$pid" || status=$?
[ "$status" = 130 ] || { echo "the run to move did not stop on SIGINT after its first checkpoint ($status)"; exit 1; }
timeout "$SHORT" charff train --resume "$OUT/moved" --device cpu > "$OUT/moved.txt"
echo "| checkpointed on $DEVICE, resumed on cpu | finished at $(field "$OUT/moved/summary.json" "chars") chars |" \
  >> "$TABLE"
cat "$TABLE"
echo "cuda_check: every step passed on $DEVICE"
