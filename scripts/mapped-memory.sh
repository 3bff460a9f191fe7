#!/usr/bin/env bash
# Peak resident memory and wall time of `analyze memorization` against MNIST-sized training
# sets of growing N, stored as float32 .npy files that are read memory-mapped (docs/scale.md).
# The sets are the 60,000 MNIST training images tiled with uniform noise of ±1/255 per pixel.
#   scripts/mapped-memory.sh            N = 60,000, 240,000 and 960,000 (3 GB of disk)
#   scripts/mapped-memory.sh --quick    N = 6,000 and 24,000
# Files go to out/mapped-memory (deleted afterwards unless KEEP=1).
source "$(dirname "$0")/common.sh"
SIZES=$(size "60000 240000 960000" "6000 24000")
OUT=out/mapped-memory
mkdir -p "$OUT"
VENV=${SCORELAB_VENV:-/var/tmp/scorelab-venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "numpy>=1.21"

"$VENV/bin/python" - "$OUT" $SIZES <<'PY'
import gzip, sys
import numpy as np
out, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
with gzip.open("datasets/mnist/train-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(-1, 784).astype(np.float32) / 255
rng = np.random.default_rng(0)
for n in sizes:
    array = np.lib.format.open_memmap(f"{out}/train-{n}.npy", mode="w+", dtype="<f4", shape=(n, 1, 28, 28))
    for start in range(0, n, 60000):
        rows = min(60000, n - start)
        noise = rng.uniform(-1 / 255, 1 / 255, size=(rows, 784)).astype(np.float32)
        array[start:start + rows] = np.clip(images[:rows] + noise, 0, 1).reshape(rows, 1, 28, 28)
    array.flush()
    del array
# 256 samples: test-split-like points (training images with more noise)
samples = np.clip(images[:256] + rng.normal(0, 0.1, size=(256, 784)), 0, 1).astype(np.float32)
np.save(f"{out}/samples.npy", samples)
PY

printf "| N | file | peak resident memory | wall time |\n| --- | --- | --- | --- |\n"
for n in $SIZES; do
    file="$OUT/train-$n.npy"
    report=$( { /usr/bin/time -v "$BIN" analyze memorization --samples "$OUT/samples.npy" --ignore-summary \
        --dataset csv --data-file "$file" --out "$OUT/memorization-$n" --force >/dev/null; } 2>&1 )
    rss_kb=$(echo "$report" | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}')
    wall=$(echo "$report" | awk '/Elapsed \(wall clock\)/ {print $NF}')
    size_mb=$(( $(stat -c %s "$file") / 1048576 ))
    printf "| %s | %s MiB | %s MiB | %s |\n" "$n" "$size_mb" "$(( rss_kb / 1024 ))" "$wall"
done
[ "${KEEP:-0}" = 1 ] || rm -f "$OUT"/train-*.npy
