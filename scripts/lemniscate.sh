#!/usr/bin/env bash
# Liu & Zuazua, Fig. 2: reverse heat-equation dynamics (viscosity ε = 0.2) on the lemniscate,
# driven by the "true" score (approximated by the empirical score of 50,000 curve points) and by
# the empirical score of 40 points, stopped at t_min = 0.1, 0.01 and 0.001 (and 1e-5, near the limit). Writes scatter plots
# of the samples, trajectory plots, and a table of the distance to the curve and to the nearest
# training point.
#   scripts/lemniscate.sh [--quick]    outputs in $OUT (default out/lemniscate)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/lemniscate}
N=$(size 1000 200)
STEPS=$(size 100 40)
mkdir -p "$OUT"
rm -f "$OUT/table.csv"
# 40 log-spaced recording times from τ = 1 down to 1e-5, for the trajectory pictures
RECORD=$(awk 'BEGIN { for (i = 0; i < 40; i++) printf "%s%g", (i ? "," : ""), exp(-log(100000) * i / 39) }')
for score in true:50000 empirical:40; do
    name=${score%%:*}
    n_train=${score##*:}
    for t_min in 0.1 0.01 0.001 0.00001; do
        run="$OUT/$name-tmin$t_min"
        extra=()
        if [ "$t_min" = 0.00001 ]; then extra=(--record "$RECORD"); fi
        "$BIN" sample --dataset lemniscate --n-train "$n_train" --sde heat --eps 0.2 \
            --sampler em --steps "$STEPS" --grid log --t-min "$t_min" --n "$N" --seed 1 \
            "${extra[@]}" --out "$run" --force
        "$BIN" analyze memorization --samples "$run/samples.npy" --out "$run-memorization" \
            --force --table "$OUT/table.csv" --label "$name score (n = $n_train) t_min $t_min"
    done
done
cut -d, -f1,3,4,8,9 "$OUT/table.csv" | column -s, -t
