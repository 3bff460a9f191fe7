#!/usr/bin/env bash
# Soak test: trains and samples with random valid configurations until the time is up, and
# checks that every command either succeeded or failed with an error listed in docs/errors.md
# (exit 1 or 2, one "error: " line containing a catalogued fragment). Any panic, unlisted
# message or other exit code stops the soak and is reported.
#
#   scripts/soak.sh              # 10 minutes
#   DURATION=3600 SEED=7 scripts/soak.sh
set -uo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-600}
RANDOM=${SEED:-1}
cargo build --release --quiet || exit 1
BIN=${CARGO_TARGET_DIR:-target}/release/scorelab
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# the catalogued message fragments
FRAGMENTS="$WORK/fragments"
grep '^| .*`' docs/errors.md | awk -F' \\| ' '{print $4}' | sed 's/ |$//' > "$FRAGMENTS"

pick() { local a=("$@"); echo "${a[$((RANDOM % ${#a[@]}))]}"; }

check() { # $1 = label, $2 = exit code, $3 = stderr file
    local code=$2
    if [ "$code" -eq 0 ]; then return 0; fi
    if grep -q "panicked" "$3"; then echo "PANIC in $1"; cat "$3"; exit 1; fi
    if [ "$code" -ne 1 ] && [ "$code" -ne 2 ]; then echo "exit $code in $1"; cat "$3"; exit 1; fi
    local line
    line=$(grep '^error: ' "$3" | grep -v XDG_RUNTIME_DIR | tail -1)
    while IFS= read -r fragment; do
        if [[ "$line" == *"$fragment"* ]]; then
            echo "   catalogued failure: $line"
            return 0
        fi
    done < "$FRAGMENTS"
    echo "UNCATALOGUED error in $1: $line"; exit 1
}

end=$((SECONDS + DURATION))
runs=0; failures=0
while [ $SECONDS -lt $end ]; do
    runs=$((runs + 1))
    dataset=$(pick swissroll lemniscate circle gmm)
    sde=$(pick vp ve subvp ou cou cvp heat)
    loss=$(pick dsm ssm hyvarinen)
    param=$(pick eps score x0)
    penalty=$(pick none none full negative li-yau)
    gamma=0; [ "$penalty" != none ] && gamma=$(pick 0.001 0.01 0.1)
    steps=$(( (RANDOM % 60) + 5 ))
    seed=$RANDOM
    run="$WORK/run-$runs"
    cmd=(train --dataset "$dataset" --n-train $(( (RANDOM % 200) + 9 )) --sde "$sde" --loss "$loss"
         --parameterisation "$param" --penalty "$penalty" --gamma "$gamma" --width $(pick 16 32)
         --depth $(pick 1 2 3) --embedding $(pick 4 8) --batch-size $(pick 8 32 64)
         --steps "$steps" --checkpoint-every $(pick 0 7) --seed "$seed" --out "$run")
    $(pick true false) && cmd+=(--residual)
    echo "[$runs] ${cmd[*]}"
    "$BIN" "${cmd[@]}" > /dev/null 2> "$WORK/err"
    code=$?
    check "train" $code "$WORK/err" || exit 1
    [ $code -ne 0 ] && { failures=$((failures + 1)); continue; }
    # an interrupted run resumes to a few more steps
    if [ $((RANDOM % 4)) -eq 0 ]; then
        "$BIN" train --resume --steps $((steps + 3)) --out "$run" > /dev/null 2> "$WORK/err"
        check "resume" $? "$WORK/err" || exit 1
    fi
    sampler=$(pick em pc ode-euler ode-heun ode-rk4 exp)
    scmd=(sample --score checkpoint --checkpoint "$run" --sampler "$sampler" --n $(( (RANDOM % 50) + 1 ))
          --steps $(( (RANDOM % 50) + 2 )) --t-min $(pick 1e-3 1e-2 0.1) --grid $(pick uniform quadratic log)
          --seed "$seed" --out "$WORK/sample-$runs")
    $(pick true false) && scmd+=(--denoise)
    echo "    ${scmd[*]}"
    "$BIN" "${scmd[@]}" > /dev/null 2> "$WORK/err"
    code=$?
    check "sample" $code "$WORK/err" || exit 1
    [ $code -ne 0 ] && failures=$((failures + 1))
    rm -rf "$run" "$WORK/sample-$runs"
done
echo "soak clean: $runs runs in ${DURATION} s, $failures catalogued failures, no panic"
