#!/usr/bin/env bash
# Liu & Zuazua, Sec. 4.2, loss (4.6): dsm plus γ times a penalty on the network's divergence
# (full: (∇·s)², negative: its negative part, li-yau: only below the Li–Yau bound −d/σ²), on
# 20 Swiss-roll points where plain dsm memorises. For each (penalty, γ): memorised fraction,
# d1 and quality of 1,000 samples (table.csv), and along 200 reverse paths the distance to the
# training set and the largest fraction of points violating the Li–Yau bound (paths.csv).
#   scripts/divergence-regularisation.sh [--quick]   outputs in $OUT (default out/divergence-regularisation)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/divergence-regularisation}
STEPS=$(size 10000 300)
N=$(size 1000 200)
PATHS=$(size 200 50)
mkdir -p "$OUT"
rm -f "$OUT/table.csv" "$OUT/paths.csv"
for run in none:0 full:0.01 full:0.1 full:1 negative:0.01 negative:0.1 negative:1 \
    li-yau:0.01 li-yau:0.1 li-yau:1; do
    penalty=${run%%:*}
    gamma=${run##*:}
    name="$penalty-$gamma"
    "$BIN" train --dataset swissroll --n-train 20 --width 128 --depth 3 --loss dsm \
        --penalty "$penalty" --gamma "$gamma" --steps "$STEPS" --batch-size 256 --lr 2e-3 \
        --ema-decay 0.99 --checkpoint-every 0 --out "$OUT/$name" --force
    "$BIN" sample --score checkpoint --checkpoint "$OUT/$name" --n "$N" --t-min 1e-4 --denoise \
        --seed 1 --out "$OUT/$name-samples" --force
    "$BIN" analyze memorization --samples "$OUT/$name-samples/samples.npy" \
        --out "$OUT/$name-memorization" --force --table "$OUT/table.csv" --label "$name"
    "$BIN" analyze paths --score checkpoint --checkpoint "$OUT/$name" --n "$PATHS" \
        --t-min 1e-4 --seed 1 --out "$OUT/$name-paths" --force \
        --table "$OUT/paths.csv" --label "$name"
done
cut -d, -f1,3,4,10 "$OUT/table.csv" | column -s, -t
cut -d, -f1,3,4,10 "$OUT/paths.csv" | column -s, -t
