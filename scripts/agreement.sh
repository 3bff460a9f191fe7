#!/usr/bin/env bash
# Disjoint-subset agreement: two MLPs trained on independent 500-point Swiss-roll draws, and
# the empirical scores of the same two draws, each pair sampled from the same noise.
#   scripts/agreement.sh [--quick]        outputs in $OUT (default out/agreement)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/agreement}
STEPS=$(size 16000 1000)
for seed in 0 1; do
    "$BIN" train --dataset swissroll --n-train 500 --data-seed "$seed" --seed "$seed" \
        --width 128 --depth 3 --steps "$STEPS" --batch-size 256 --lr 2e-3 \
        --ema-decay "$(size 0.999 0.99)" --out "$OUT/run$seed" --force
done
FLAGS=(--sampler ode-heun --steps 200 --t-min 1e-4 --n 1000)
"$BIN" analyze agreement --a "$OUT/run0" --b "$OUT/run1" "${FLAGS[@]}" --out "$OUT/models" --force
"$BIN" analyze agreement --empirical --n-train 500 "${FLAGS[@]}" --out "$OUT/empirical" --force
