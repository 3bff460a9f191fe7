#!/usr/bin/env bash
# Runs each cargo-fuzz target (IDX reader, CSV reader, meta.json reader) for a while.
#
#   scripts/fuzz.sh            # 180 s per target
#   SECONDS_PER_TARGET=600 scripts/fuzz.sh
#
# Needs `cargo install cargo-fuzz`. cargo-fuzz passes nightly-only flags to rustc; on a stable
# toolchain RUSTC_BOOTSTRAP=1 allows them. Crashes are written to fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
TIME=${SECONDS_PER_TARGET:-180}

# seed corpora: real inputs of each format
mkdir -p corpus/idx corpus/csv corpus/meta
cp ../datasets/mnist/t10k-labels-idx1-ubyte.gz corpus/idx/labels.gz
printf 'x,y\n0.1,0.2\n# comment\n-1e3,4\n' > corpus/csv/points.csv
if [ -f seeds/meta.json ]; then cp seeds/meta.json corpus/meta/; fi

for target in idx csv meta; do
    echo "== $target ($TIME s)"
    cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$TIME" -rss_limit_mb=4096 2>&1 \
        | grep -E "^(#[0-9]+ +DONE|Done|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)" || true
done
echo "artifacts (crashes), if any:"
ls -R artifacts 2>/dev/null || echo "none"
