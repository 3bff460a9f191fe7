#!/usr/bin/env bash
# The empirical score of points on the unit circle, exact and perturbed by a constant e
# (Pidstrigach, Fig. 2): with 9 points every sample still lands on a training point, but the
# perturbation skews how often each point is reached; with 256 points the same holds along the
# circle. Prints the copies per training point of each run.
#   scripts/perturbed-circle.sh [--quick]    outputs in $OUT (default out/perturbed-circle)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/perturbed-circle}
N=$(size 4000 400)
for k in 9 256; do
    for e in "0,0" "0.3,0"; do
        name="k$k-e${e/,/_}"
        "$BIN" sample --dataset circle --n-train "$k" --perturb "$e" --n "$N" --t-min 1e-4 \
            --denoise --out "$OUT/$name" --force
        "$BIN" analyze memorization --samples "$OUT/$name/samples.npy" --out "$OUT/$name-memorization" --force
    done
done
for e in "0_0" "0.3_0"; do
    "$BIN" plot --csv "$OUT/k256-e$e-memorization/copies.csv" --x training_point --y copies \
        --title "copies per training point (256 circle points, e = ${e/_/,})" --out "$OUT/k256-e$e.png"
done
