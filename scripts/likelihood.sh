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
# the same with the adaptive Dormand–Prince solver (score_sde's RK45, rtol = atol = 1e-5)
"$BIN" analyze likelihood --score checkpoint --checkpoint "$OUT/run" --solver rk45 \
    --out "$OUT/model-rk45" --force
"$BIN" analyze likelihood --score empirical --n-train 500 --solver rk45 \
    --out "$OUT/empirical-rk45" --force

# MNIST: the tiny U-Net on a seeded 1,000-image subset (a short run: 400 steps, about 3 minutes)
# and the empirical score of the same images; 16 training and 16 test images each, Hutchinson
# divergence (one Rademacher probe), uniform dequantisation, bits/dim.
"$BIN" train --dataset mnist --n-train 1000 --model unet --preset tiny --steps "$(size 400 20)" \
    --batch-size 64 --lr 1e-3 --warmup 50 --grad-clip 1 --ema-decay 0.99 --out "$OUT/mnist-run" --force
"$BIN" analyze likelihood --score checkpoint --checkpoint "$OUT/mnist-run" --max-points 16 \
    --steps "$(size 40 5)" --out "$OUT/mnist-model" --force
"$BIN" analyze likelihood --dataset mnist --n-train 1000 --max-points 16 --steps "$(size 40 5)" \
    --out "$OUT/mnist-empirical" --force
