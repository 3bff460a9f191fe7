#!/usr/bin/env bash
# Claustre, Fig. 6: MNIST digits from the reference tiny U-Net (checkpoints/mnist-unet-tiny) with
# Euler–Maruyama and with predictor–corrector (one Langevin step per step, snr 0.16), from the
# same seed; sample grids and the classifier Fréchet distance to the test split for each.
# About 10 minutes on two cores (--quick: under one).
#   scripts/mnist-samplers.sh [--quick]    outputs in $OUT (default out/mnist-samplers)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/mnist-samplers}
CHECKPOINT=${CHECKPOINT:-checkpoints/mnist-unet-tiny}
N=$(size 256 16)
STEPS=$(size 250 20)
mkdir -p "$OUT"
rm -f "$OUT/table.csv"
for sampler in em pc; do
    "$BIN" sample --score checkpoint --checkpoint "$CHECKPOINT" --sampler "$sampler" \
        --steps "$STEPS" --denoise --n "$N" --seed 1 --out "$OUT/$sampler" --force
    "$BIN" analyze memorization --samples "$OUT/$sampler/samples.npy" \
        --out "$OUT/$sampler-memorization" --force --table "$OUT/table.csv" --label "$sampler"
done
cut -d, -f1,2,3,4,14,15 "$OUT/table.csv" | column -s, -t
