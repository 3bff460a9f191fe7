#!/usr/bin/env bash
# Negative log-likelihood (probability-flow ODE, exact divergence) of the training set and of
# fresh data: under a trained MLP and under the empirical score of the same 500 Swiss-roll
# points. A memorising score puts far more mass on its training points than on fresh ones.
#   scripts/likelihood.sh [--quick]       outputs in $OUT (default out/likelihood)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/likelihood}
STEPS=$(size 16000 1000)
"$BIN" train --dataset swissroll --n-train 500 --width 128 --depth 3 --steps "$STEPS" \
    --batch-size 256 --lr 2e-3 --ema-decay "$(size 0.999 0.99)" --out "$OUT/run" --force
"$BIN" analyze likelihood --score checkpoint --checkpoint "$OUT/run" --out "$OUT/model" --force
"$BIN" analyze likelihood --score empirical --n-train 500 --out "$OUT/empirical" --force
