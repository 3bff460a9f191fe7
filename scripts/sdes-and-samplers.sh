#!/usr/bin/env bash
# Claustre, Sec. 6 (Figs. 1–3, 5): the MLP trained with dsm on the Swiss roll under each SDE
# (vp, subvp, ve, ou, cou, cvp), each sampled with Euler–Maruyama, predictor–corrector, the
# probability-flow ODE (RK4) and the exponential integrator from the same noise. One table row
# per pair: distance to the spiral, sliced W2 and energy distance to fresh data, memorised
# fraction. Also the forward process of ou against cou (T = 1): ou forgets the data, cou keeps
# a biased final state.
#   scripts/sdes-and-samplers.sh [--quick]    outputs in $OUT (default out/sdes-and-samplers)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/sdes-and-samplers}
STEPS=$(size 10000 300)
N=$(size 2000 300)
SAMPLE_STEPS=$(size 500 100)
# the quick form trains too briefly for a slow moving average of the weights
EMA=$(size 0.999 0.9)
mkdir -p "$OUT"
rm -f "$OUT/table.csv"
for sde in ou cou; do
    "$BIN" forward --dataset swissroll --sde "$sde" --t-end 1 --times 0,0.25,0.5,1 --n 1000 \
        --out "$OUT/forward-$sde" --force
done
for sde in vp subvp ve ou cou cvp; do
    "$BIN" train --dataset swissroll --n-train 10000 --sde "$sde" --width 128 --depth 3 \
        --loss dsm --steps "$STEPS" --batch-size 512 --lr 2e-3 --ema-decay "$EMA" --checkpoint-every 0 \
        --out "$OUT/$sde" --force
    for sampler in em pc ode-rk4 exp; do
        run="$OUT/$sde-$sampler"
        "$BIN" sample --score checkpoint --checkpoint "$OUT/$sde" --sampler "$sampler" \
            --steps "$SAMPLE_STEPS" --n "$N" --seed 1 --out "$run" --force
        "$BIN" analyze memorization --samples "$run/samples.npy" --out "$run-memorization" \
            --force --table "$OUT/table.csv" --label "$sde $sampler"
    done
done
cut -d, -f1,3,8,10,11,12 "$OUT/table.csv" | column -s, -t
