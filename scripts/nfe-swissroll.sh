#!/usr/bin/env bash
# Sliced W2 to fresh data against network evaluations per sample (NFE) on the Swiss roll, for
# the reference vp MLP (checkpoints/swissroll-mlp-vp): every sampler at the same NFE (--nfe
# sets its steps), 2,000 samples from the same seed, no denoising step, beside the floor of two
# fresh draws. Writes $OUT/nfe.csv (sampler, nfe, sliced_w2_to_fresh, sliced_w2_floor,
# mean_d1). About a minute on two cores (--quick: seconds).
#   scripts/nfe-swissroll.sh [--quick]    outputs in $OUT (default out/nfe-swissroll)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/nfe-swissroll}
CHECKPOINT=${CHECKPOINT:-checkpoints/swissroll-mlp-vp}
N=$(size 2000 200)
NFES=$(size "10 20 40 100" "10 20")
mkdir -p "$OUT"
echo "sampler,nfe,sliced_w2_to_fresh,sliced_w2_floor,mean_d1" > "$OUT/nfe.csv"
for nfe in $NFES; do
    for sampler in em pc ode-heun edm ddim dpm2m dpm2m-sde; do
        run="$OUT/$sampler-$nfe"
        extra=()
        [ "$sampler" = ddim ] && extra=(--eta 0)
        "$BIN" sample --checkpoint "$CHECKPOINT" --sampler "$sampler" --nfe "$nfe" --n "$N" \
            --seed 1 --out "$run" --force "${extra[@]}" > /dev/null
        rm -f "$run/table.csv"
        "$BIN" analyze memorization --samples "$run/samples.npy" --out "$run-memorization" \
            --force --table "$run/table.csv" --label "$sampler" > /dev/null
        # mean_d1 is the 4th column, sliced_w2_to_fresh and its floor the 10th and 11th
        tail -n 1 "$run/table.csv" | awk -F, -v s="$sampler" -v n="$nfe" \
            '{ print s "," n "," $10 "," $11 "," $4 }' >> "$OUT/nfe.csv"
    done
done
column -s, -t < "$OUT/nfe.csv"
