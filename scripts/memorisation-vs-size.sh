#!/usr/bin/env bash
# Memorisation against training-set size: the same network and training budget on a small, a
# medium and the full training set; memorised fraction and d1 of its samples for each N.
#   MNIST: the tiny U-Net on N = 100 and 1,000 images (3,000 steps each, about 25 min each on two
#   cores), and the shipped reference checkpoint checkpoints/mnist-unet-tiny for all 60,000.
#   Swiss roll: the MLP 128x3 on N = 20, 200 and 10,000 points (10,000 steps each).
#   scripts/memorisation-vs-size.sh [--quick]    outputs in $OUT (default out/memorisation-vs-size)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/memorisation-vs-size}
mkdir -p "$OUT"

# memorised fraction and mean d1 from the line `analyze memorization` prints
measure() {
    local line
    line=$("$BIN" analyze memorization --samples "$1/samples.npy" --out "$1-memorization" --force)
    echo "$line" >&2
    echo "$(echo "$line" | sed -E 's/^memorised fraction ([0-9.]+).*/\1/'),$(echo "$line" | sed -E 's/^[^;]*mean d1 ([0-9.e-]+);.*/\1/')"
}

STEPS=$(size 10000 500)
echo "dataset,n_train,steps,memorised_fraction,mean_d1" > "$OUT/table.csv"
for n in $(size "20 200 10000" "20 10000"); do
    run="$OUT/swissroll-n$n"
    "$BIN" train --dataset swissroll --n-train "$n" --width 128 --depth 3 --steps "$STEPS" \
        --batch-size 256 --lr 2e-3 --ema-decay 0.99 --checkpoint-every 0 --out "$run" --force
    "$BIN" sample --score checkpoint --checkpoint "$run" --n 1000 --t-min 1e-4 --denoise \
        --out "$run-samples" --force
    echo "swissroll,$n,$STEPS,$(measure "$run-samples")" >> "$OUT/table.csv"
done

STEPS=$(size 3000 100)
SAMPLE_STEPS=$(size 500 50)
# the quick form trains too briefly for a slow moving average of the weights
EMA=$(size 0.999 0.9)
for n in $(size "100 1000 60000" "100 1000"); do
    run="$OUT/mnist-n$n"
    if [ "$n" = 60000 ]; then
        run=checkpoints/mnist-unet-tiny
        steps=$(sed -nE 's/^  "step": ([0-9]+),/\1/p' "$run/meta.json")
    else
        steps=$STEPS
        if [ -d "$run" ]; then
            "$BIN" train --resume --steps "$STEPS" --out "$run"
        else
            "$BIN" train --dataset mnist --n-train "$n" --model unet --preset tiny --loss dsm \
                --parameterisation eps --steps "$STEPS" --batch-size 64 --lr 1e-3 --warmup 200 \
                --grad-clip 1 --ema-decay "$EMA" --checkpoint-every 500 --out "$run"
        fi
    fi
    "$BIN" sample --score checkpoint --checkpoint "$run" --sampler em --steps "$SAMPLE_STEPS" \
        --denoise --n 64 --seed 1 --out "$OUT/mnist-n$n-samples" --force
    echo "mnist,$n,$steps,$(measure "$OUT/mnist-n$n-samples")" >> "$OUT/table.csv"
done
column -s, -t < "$OUT/table.csv"
