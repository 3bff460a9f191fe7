#!/usr/bin/env bash
# Classifier Fréchet distance of MNIST digits against the number of network evaluations per
# sample (NFE), for Euler–Maruyama, predictor–corrector, EDM's Heun sampler, DDIM (η = 0) and
# DPM-Solver++(2M), every sampler at the same NFE (--nfe sets its steps), from the same seed,
# for each reference checkpoint in CHECKPOINTS. Writes $OUT/nfe.csv (checkpoint, sampler, nfe,
# frechet_distance, frechet_floor) and prints it as a table.
# About 35 minutes per checkpoint on two cores (--quick: a couple of minutes).
#   scripts/mnist-nfe.sh [--quick]    outputs in $OUT (default out/mnist-nfe)
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/mnist-nfe}
CHECKPOINTS=${CHECKPOINTS:-checkpoints/mnist-unet-tiny checkpoints/mnist-unet-tiny-edm}
N=$(size 256 16)
NFES=$(size "10 20 35 50 100 250" "10 20")
SAMPLERS="em pc edm ddim dpm2m"
mkdir -p "$OUT"
echo "checkpoint,sampler,nfe,frechet_distance,frechet_floor" > "$OUT/nfe.csv"
for checkpoint in $CHECKPOINTS; do
    name=$(basename "$checkpoint")
    for nfe in $NFES; do
        for sampler in $SAMPLERS; do
            run="$OUT/$name/$sampler-$nfe"
            extra=()
            # DDIM's deterministic form; every sampler ends with the Tweedie step (1 evaluation)
            [ "$sampler" = ddim ] && extra=(--eta 0)
            "$BIN" sample --score checkpoint --checkpoint "$checkpoint" --sampler "$sampler" \
                --nfe "$nfe" --denoise --n "$N" --seed 1 --out "$run" --force "${extra[@]}"
            rm -f "$run/table.csv"
            "$BIN" analyze memorization --samples "$run/samples.npy" --out "$run-memorization" \
                --force --table "$run/table.csv" --label "$sampler"
            # frechet_distance and frechet_floor are the 14th and 15th columns of the table
            tail -n 1 "$run/table.csv" | awk -F, -v c="$name" -v s="$sampler" -v n="$nfe" \
                '{ print c "," s "," n "," $14 "," $15 }' >> "$OUT/nfe.csv"
        done
    done
done
column -s, -t < "$OUT/nfe.csv"
