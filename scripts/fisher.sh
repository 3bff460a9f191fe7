#!/usr/bin/env bash
# Fisher divergence E‖s_θ − ∇log p_t‖² against t for MLPs trained with dsm and ssm on the
# ring mixture, whose p_t is known in closed form.
#   scripts/fisher.sh [--quick]           outputs in $OUT (default out/fisher)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/fisher}
STEPS=$(size 8000 500)
for loss in dsm ssm; do
    "$BIN" train --dataset gmm --n-train 10000 --loss "$loss" --width 128 --depth 3 \
        --steps "$STEPS" --batch-size 512 --lr 2e-3 --ema-decay "$(size 0.999 0.99)" \
        --out "$OUT/$loss" --force
    "$BIN" analyze fisher --score checkpoint --checkpoint "$OUT/$loss" --out "$OUT/$loss-fisher" --force
done
