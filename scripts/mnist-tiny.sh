#!/usr/bin/env bash
# Trains the `tiny` U-Net preset on MNIST on the CPU, then samples a grid of 64 digits.
# Rerunning continues an interrupted run from its newest checkpoint.
#
#   scripts/mnist-tiny.sh                 # outputs in out/mnist-tiny
#   OUT=out/x STEPS=2000 scripts/mnist-tiny.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/mnist-tiny}
STEPS=${STEPS:-6000}
DEVICE=${DEVICE:-cpu}
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/scorelab

if [ -d "$OUT/run" ]; then
    "$BIN" train --resume --steps "$STEPS" --device "$DEVICE" --out "$OUT/run"
else
    "$BIN" train --dataset mnist --model unet --preset tiny --loss dsm --parameterisation eps \
        --steps "$STEPS" --batch-size 64 --lr 1e-3 --warmup 200 --grad-clip 1 \
        --checkpoint-every 500 --device "$DEVICE" --out "$OUT/run"
fi
"$BIN" sample --score checkpoint --checkpoint "$OUT/run" --sampler em --steps 500 --denoise \
    --n 64 --seed 1 --device "$DEVICE" --out "$OUT/samples" --force
echo "sample grid: $OUT/samples/samples.png"
