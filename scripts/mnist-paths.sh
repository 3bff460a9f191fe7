#!/usr/bin/env bash
# Pidstrigach, Figs. 3a and 4, on MNIST: reverse paths of the reference tiny U-Net
# (checkpoints/mnist-unet-tiny) and of the empirical score of its 60,000 training images, from
# the same noise: mean distance to the nearest training image against τ, the score gap
# ‖s_θ − s_emp‖ and the Novikov exponent. About 3 minutes on two cores (--quick: under one).
#   scripts/mnist-paths.sh [--quick]    outputs in $OUT (default out/mnist-paths)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/mnist-paths}
CHECKPOINT=${CHECKPOINT:-checkpoints/mnist-unet-tiny}
N=$(size 64 8)
STEPS=$(size 250 20)
"$BIN" analyze paths --score checkpoint --checkpoint "$CHECKPOINT" --n "$N" --steps "$STEPS" \
    --t-min 1e-3 --evaluations 40 --divergence off --seed 1 --out "$OUT" --force
