#!/usr/bin/env bash
# Effective memorisation size (Gu et al.): for one model family and training budget, the largest
# training-set size whose samples are still ≥ 90% memorised. Sweeps N, trains, samples and
# measures; prints a table and the EMM.
#   scripts/emm.sh [--quick]              outputs in $OUT (default out/emm)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/emm}
STEPS=$(size 30000 1000)
SIZES=$(size "5 10 20 40 80 160" "5 20")
mkdir -p "$OUT"
echo "n_train,memorised_fraction,mean_d1" > "$OUT/emm.csv"
EMM=none
for n in $SIZES; do
    "$BIN" train --dataset swissroll --n-train "$n" --width 128 --depth 3 --steps "$STEPS" \
        --batch-size 256 --lr 2e-3 --ema-decay 0.99 --checkpoint-every 0 --out "$OUT/n$n" --force
    "$BIN" sample --score checkpoint --checkpoint "$OUT/n$n" --n 500 --t-min 1e-4 --denoise \
        --out "$OUT/n$n-samples" --force
    line=$("$BIN" analyze memorization --samples "$OUT/n$n-samples/samples.npy" \
        --out "$OUT/n$n-memorization" --force)
    fraction=$(echo "$line" | sed -E 's/^memorised fraction ([0-9.]+).*/\1/')
    d1=$(echo "$line" | sed -E 's/^[^;]*mean d1 ([0-9.e-]+);.*/\1/')
    echo "$n,$fraction,$d1" >> "$OUT/emm.csv"
    if awk -v f="$fraction" 'BEGIN { exit !(f >= 0.9) }'; then EMM=$n; fi
done
column -s, -t < "$OUT/emm.csv"
"$BIN" plot --csv "$OUT/emm.csv" --x n_train --y memorised_fraction --log-x \
    --title "memorised fraction against training-set size" --out "$OUT/emm.png"
echo "effective memorisation size (largest N with memorised fraction >= 0.9): $EMM"
echo "$EMM" > "$OUT/emm.txt"
