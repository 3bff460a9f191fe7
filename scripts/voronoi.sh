#!/usr/bin/env bash
# Cao et al., Prop. 4.4 and Fig. 10: exact reverse diffusion converges to the training samples.
# The exponential integrator with the empirical score of 8 Swiss-roll points (OU, T = 5); for
# every path, the Voronoi cell (of (x − c(τ))/α(τ): the largest posterior weight) it occupies along the
# run, compared with the cell it ends in and the cell it started in. The stochastic run (η = 1)
# and the deterministic one (η = 0, DDIM) side by side.
#   scripts/voronoi.sh [--quick]    outputs in $OUT (default out/voronoi)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/voronoi}
N=$(size 2000 300)
STEPS=$(size 500 100)
for run in sde:1 ode:0; do
    name=${run%%:*}
    eta=${run##*:}
    "$BIN" analyze cells --dataset swissroll --n-train 8 --data-seed 3 --sde ou --sampler exp \
        --eta "$eta" --steps "$STEPS" --t-min 1e-4 --n "$N" --seed 1 --out "$OUT/$name" --force
done
