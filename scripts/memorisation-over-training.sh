#!/usr/bin/env bash
# Memorisation against training steps for several training-set sizes: the same MLP trained on
# 50, 200 and 1,000 Swiss-roll points, evaluated every K steps (train --eval-every).
#   scripts/memorisation-over-training.sh [--quick]    outputs in $OUT (default out/memorisation-over-training)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/memorisation-over-training}
STEPS=$(size 30000 1000)
EVERY=$(size 2000 250)
RUNS=""
for n in 50 200 1000; do
    "$BIN" train --dataset swissroll --n-train "$n" --width 128 --depth 3 --steps "$STEPS" \
        --batch-size 256 --lr 2e-3 --ema-decay 0.99 --eval-every "$EVERY" --eval-samples 500 \
        --checkpoint-every 0 --out "$OUT/n$n" --force
    RUNS="${RUNS:+$RUNS,}$OUT/n$n"
done
"$BIN" analyze training --runs "$RUNS" --out "$OUT/curves" --force
