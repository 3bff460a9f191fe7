#!/usr/bin/env bash
# Liu & Zuazua, Fig. 3 and Thm 3.11: the probability-flow ODE (ε = 0) of the heat equation with
# the exact score of two Diracs at (−1, 0) and (1, 0). Trajectories from the Gaussian at T = 1
# split by the sign of their first coordinate and end on the Diracs; the distance to the nearest
# Dirac shrinks like √τ (imitation rate), which `analyze rate` fits on a log-log scale.
#   scripts/two-diracs.sh [--quick]    outputs in $OUT (default out/two-diracs)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/two-diracs}
N=$(size 2000 200)
PATHS=$(size 500 100)
mkdir -p "$OUT"
RECORD=$(awk 'BEGIN { for (i = 0; i < 60; i++) printf "%s%g", (i ? "," : ""), exp(-log(1e5) * i / 59) }')
"$BIN" sample --dataset diracs --sde heat --sampler ode-rk4 --steps 200 --grid log --t-min 1e-5 \
    --n "$N" --seed 1 --record "$RECORD" --out "$OUT/flow" --force
"$BIN" analyze memorization --samples "$OUT/flow/samples.npy" --out "$OUT/flow-memorization" --force
"$BIN" analyze rate --dataset diracs --n "$PATHS" --out "$OUT/rate" --force
