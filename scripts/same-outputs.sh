#!/usr/bin/env bash
# Runs a fixed set of commands (sampling, memorisation with and without a summary, likelihood
# with rk4 and rk45/Hutchinson, paths, t_min, rate, Fisher divergence, agreement, forward, training with evaluations and the
# training curves, ssm / Hyvärinen / penalty training, resuming, sampling a checkpoint, MNIST images with the classifier's quality,
# the quick demo, Voronoi cells, compare, inspect, a plot, and 31 refused commands with their messages) with two scorelab binaries on the same seeds and compares
# every file they write. Files that legitimately differ between any two runs are left out:
# weights files (burnpack stores random parameter ids) and their SHA-256 lines, wall times,
# and the output folder's own name. Use it to check that a refactoring changed no output:
#   scripts/same-outputs.sh OLD_BINARY NEW_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# = 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# A command that must fail: its exit code and last message line go into $O/errors.txt.
refused() {
    local B=$1 O=$2
    shift 2
    "$B" "$@" >/dev/null 2>"$O/err.tmp" && echo "[$*] succeeded" >>"$O/errors.txt" ||
        echo "[$*] exit $?: $(tail -1 "$O/err.tmp")" >>"$O/errors.txt"
    rm -f "$O/err.tmp"
}

run_all() {
    local B=$1 O=$2
    mkdir -p "$O"
    for args in "sample --sampler foo" "sample --n 0" "sample --checkpoint /nonexistent" \
        "sample --score exact" "sample --prior exact --checkpoint checkpoints/swissroll-mlp-vp" \
        "sample --record 0.5,x" "sample --dataset csv" "train --model unet" "train --sigma-data 0.5" \
        "train --resume --out /nonexistent" "train --eval-every 5 --eval-samples 0" \
        "forward --times 5" "forward --times 0.1,y" "bench w9" "bench w1 --reps 0" \
        "demo --size huge" "analyze memorization --samples /nonexistent.npy" \
        "analyze likelihood --max-points 0" "analyze agreement --a x" \
        "analyze agreement --empirical --prior moment" "analyze cells --records 1" \
        "analyze fisher --dataset swissroll" "analyze paths --divergence maybe" \
        "analyze tmin --samplers em,foo" "analyze rate --fit-window 1" \
        "analyze compare --a /nonexistent.npy --b /nonexistent.npy" \
        "analyze training --runs /nonexistent" "inspect /nonexistent" \
        "plot --csv /nonexistent.csv --x a --y b --out p.png" \
        "plot --csv scripts/peer/README.md --x a --y b --out p.txt"; do
        case $args in bench* | inspect* | plot*) out=() ;; *) out=(--out "$O/refused") ;; esac
        # shellcheck disable=SC2086
        refused "$B" "$O" $args "${out[@]}"
    done
    "$B" sample --dataset swissroll --n-train 200 --n 100 --steps 50 --seed 3 --out "$O/s" >/dev/null 2>&1
    "$B" analyze memorization --samples "$O/s/samples.npy" --out "$O/mem" >/dev/null 2>&1
    "$B" analyze memorization --samples "$O/s/samples.npy" --ignore-summary --dataset swissroll \
        --n-train 150 --out "$O/mem2" --table "$O/table.csv" --label a >/dev/null 2>&1
    "$B" analyze likelihood --dataset swissroll --n-train 50 --max-points 20 --steps 20 --out "$O/lik" >/dev/null 2>&1
    "$B" analyze likelihood --dataset swissroll --n-train 50 --max-points 20 --steps 20 --solver rk45 \
        --divergence hutchinson --probes 2 --out "$O/lik2" >/dev/null 2>&1
    "$B" analyze paths --dataset swissroll --n-train 50 --n 30 --steps 30 --out "$O/paths" >/dev/null 2>&1
    "$B" analyze tmin --dataset swissroll --n-train 50 --n 30 --steps 30 --out "$O/tmin" >/dev/null 2>&1
    "$B" analyze rate --n-train 20 --n 20 --steps 30 --out "$O/rate" >/dev/null 2>&1
    "$B" analyze fisher --dataset gmm --score exact --perturb 0.3,-0.4 --n 200 --out "$O/fisher" >/dev/null 2>&1
    "$B" analyze agreement --empirical --dataset swissroll --n-train 30 --n 20 --steps 20 --out "$O/agree" >/dev/null 2>&1
    "$B" forward --dataset swissroll --n 50 --times 0.1,0.5 --out "$O/fwd" >/dev/null 2>&1
    "$B" train --dataset swissroll --n-train 200 --width 16 --depth 2 --embedding 8 --batch-size 32 \
        --steps 20 --eval-every 10 --eval-samples 20 --out "$O/run" >/dev/null 2>&1
    "$B" analyze training --runs "$O/run" --out "$O/curves" >/dev/null 2>&1
    local k=0
    for loss in "--loss ssm --projections 2" "--loss hyvarinen --penalty li-yau --gamma 0.1" \
        "--penalty full --gamma 0.01 --div-probes 2"; do
        k=$((k + 1))
        # shellcheck disable=SC2086
        "$B" train --n-train 200 --width 16 --depth 2 --embedding 8 --batch-size 32 --steps 20 \
            --log-every 1 $loss --out "$O/loss$k" >/dev/null 2>&1
    done
    "$B" train --resume --out "$O/run" --steps 30 >/dev/null 2>&1
    "$B" sample --checkpoint "$O/run" --n 40 --steps 20 --record 0.5 --out "$O/s2" >/dev/null 2>&1
    "$B" sample --checkpoint checkpoints/mnist-unet-tiny --n 8 --steps 4 --out "$O/img" >/dev/null 2>&1
    "$B" analyze memorization --samples "$O/img/samples.npy" --out "$O/img-mem" >/dev/null 2>&1
    "$B" demo --size quick --out "$O/demo" >/dev/null 2>&1
    "$B" analyze cells --dataset swissroll --n-train 10 --n 20 --steps 20 --out "$O/cells" >/dev/null 2>&1
    "$B" plot --csv "$O/table.csv" --x samples --y memorised_fraction,mean_d1 --out "$O/plot.png" >/dev/null 2>&1
    refused "$B" "$O" plot --csv "$O/table.csv" --x samples --y nothing --out "$O/plot2.png"
    "$B" analyze compare --a "$O/s/samples.npy" --b "$O/s2/samples.npy" --out "$O/compare" >/dev/null 2>&1
    "$B" inspect checkpoints/swissroll-mlp-vp >"$O/inspect.txt" 2>&1
    "$B" analyze likelihood --dataset swissroll --n-train 50 --solver rk4 --rtol 1e-3 \
        --out "$O/bad" 2>"$O/usage-error.txt" && exit 1 || echo "exit $?" >>"$O/usage-error.txt"
}

run_all "$(realpath "$1")" "$WORK/a"
run_all "$(realpath "$2")" "$WORK/b"
status=0
while IFS= read -r file; do
    rel=${file#"$WORK/a/"}
    case "$rel" in *.bpk) continue ;; esac
    clean() { sed -e "s#$WORK/[ab]#OUT#g" -e '/\.bpk": "/d' -e '/_seconds"/d' "$1"; }
    if [ ! -f "$WORK/b/$rel" ]; then
        echo "only in the first run: $rel"; status=1
    elif ! cmp -s <(clean "$file") <(clean "$WORK/b/$rel"); then
        echo "differs: $rel"; status=1
    fi
done < <(find "$WORK/a" -type f | sort)
[ $status = 0 ] && echo "same outputs ($(find "$WORK/a" -type f | wc -l) files)"
exit $status
