#!/usr/bin/env bash
# Classifier Fréchet distance of MNIST digits against the number of network evaluations per
# sample (NFE), for Euler–Maruyama, predictor–corrector, EDM's Heun sampler (without and with
# churn), DDIM (η = 0 and 1), DPM-Solver++(2M) and its SDE form (viscosity η = 1 and 4), every
# sampler at the same NFE (--nfe sets its steps), from the same seed,
# for each reference checkpoint in CHECKPOINTS. Writes $OUT/nfe.csv (checkpoint, sampler, nfe,
# frechet_distance, frechet_floor) and prints it as a table.
# About 22 minutes per checkpoint on two cores (--quick: a couple of minutes).
#   scripts/mnist-nfe.sh [--quick]    outputs in $OUT (default out/mnist-nfe); CHECKPOINTS, NFES,
#   RUNS and SEED (default 1) choose the cells
source "$(dirname "$0")/common.sh"
OUT=${OUT:-out/mnist-nfe}
CHECKPOINTS=${CHECKPOINTS:-checkpoints/mnist-unet-tiny checkpoints/mnist-unet-tiny-edm checkpoints/mnist-unet-tiny-edm-12k checkpoints/mnist-unet-tiny-edm-20k checkpoints/mnist-unet-tiny-edm-20k-cosine}
N=$(size 256 16)
# seed of the prior draws and the sampler noise (the same for every cell)
SEED=${SEED:-1}
NFES=${NFES:-$(size "10 20 35 50 100 250" "10 20")}
# label=sampler and its flags: DDIM deterministic (η = 0) and with the posterior's noise (η = 1,
# DDPM's ancestral step), EDM deterministic and with churn (γ = √2 − 1 for σ̃ in [0.05, 50]),
# SDE-DPM-Solver++(2M) on the reverse SDE (η = 1) and with four times its noise (η = 4)
RUNS=${RUNS:-"em=em pc=pc edm=edm edm-churn=edm,--churn,40,--churn-sigma-min,0.05,--churn-sigma-max,50 ddim=ddim,--eta,0 ddim-eta1=ddim,--eta,1 dpm2m=dpm2m dpm2m-sde=dpm2m-sde dpm2m-sde-eta4=dpm2m-sde,--eta,4"}
mkdir -p "$OUT"
echo "checkpoint,sampler,nfe,frechet_distance,frechet_floor" > "$OUT/nfe.csv"
for checkpoint in $CHECKPOINTS; do
    name=$(basename "$checkpoint")
    for nfe in $NFES; do
        for entry in $RUNS; do
            sampler=${entry%%=*}
            IFS=, read -r -a flags <<< "${entry#*=}"
            run="$OUT/$name/$sampler-$nfe"
            # every run ends with the Tweedie step, one of its evaluations
            "$BIN" sample --score checkpoint --checkpoint "$checkpoint" --sampler "${flags[@]}" \
                --nfe "$nfe" --denoise --n "$N" --seed "$SEED" --out "$run" --force
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
