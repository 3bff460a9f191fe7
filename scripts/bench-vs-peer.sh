#!/usr/bin/env bash
# The workloads of DESIGN §8 with scorelab and with the PyTorch/NumPy peer in ../shared/peer
# (W1–W4) and scripts/peer (W5, the tiny MNIST U-Net's training), run alternately on the same
# thread count and the same machine; writes the table of ratios to docs/performance.md (and
# every JSON line to $OUT).
#
#   scripts/bench-vs-peer.sh [--threads N] [--reps R] [--quick] [--report-only]
#
# --report-only rewrites the report from the JSON lines of the last run without running anything.
# The peer's virtual environment is made as its README says (about 2.6 GB of downloads) in
# $PEER_VENV (default out/peer-venv) unless it exists. Like the peer's run_all.sh, every run
# waits until other processes use less than 5% of the CPU. About 30 minutes for --reps 3.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=2
REPS=3
QUICK=0
REPORT_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) THREADS=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --report-only) REPORT_ONLY=1; shift ;;
        *) echo "unknown argument: $1 (expected --threads N, --reps R, --quick, --report-only)" >&2; exit 2 ;;
    esac
done
PEER=${PEER:-../shared/peer}
PEER_VENV=$(realpath -m "${PEER_VENV:-out/peer-venv}")
# runs wait until the machine's CPU use is below this percentage (100: never wait)
IDLE_PERCENT=${IDLE_PERCENT:-5}
OUT=${OUT:-out/bench-vs-peer}
REPORT=${REPORT:-docs/performance.md}
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/scorelab
PY=$PEER_VENV/bin/python

if [ ! -x "$PY" ] || ! "$PY" -c "import torch" 2>/dev/null; then
    echo "setting up the peer's environment in $PEER_VENV (as $PEER/README.md says)"
    python3 -m venv "$PEER_VENV"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q --no-deps torch==2.15.0
    "$PY" -m pip install -q filelock typing-extensions sympy networkx jinja2 fsspec mpmath \
        MarkupSafe numpy "setuptools>=77.0.3"
    "$PY" -m pip install -q \
        "cuda-toolkit[cublas,cudart,cufft,cufile,cupti,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.2.2" \
        nvidia-cudnn-cu13==9.26.0.51 nvidia-cusparselt-cu13==0.8.1 nvidia-nccl-cu13==2.30.7 \
        nvidia-nvshmem-cu13==3.7.2
fi

# sizes: the peer's defaults, or a short form that checks the pipeline
if [ "$QUICK" = 1 ]; then
    W1_STEPS=100; W4_STEPS=50; W2_SAMPLES=1000; W2_STEPS=100; W3_REPS=1; W5_STEPS=5
else
    W1_STEPS=2000; W4_STEPS=500; W2_SAMPLES=10000; W2_STEPS=1000; W3_REPS=5; W5_STEPS=50
fi

busy_percent() {  # CPU use of the whole machine over 2 s, in percent
    local a b c d e f g h t1 i1 t2 i2
    read -r _ a b c d e f g h _ < /proc/stat; t1=$((a+b+c+d+e+f+g+h)); i1=$((d+e))
    sleep 2
    read -r _ a b c d e f g h _ < /proc/stat; t2=$((a+b+c+d+e+f+g+h)); i2=$((d+e))
    echo $(( 100 * ((t2-t1) - (i2-i1)) / (t2-t1) ))
}
wait_idle() {
    local busy
    [ "$IDLE_PERCENT" -ge 100 ] && return
    while busy=$(busy_percent); [ "$busy" -ge "$IDLE_PERCENT" ]; do
        echo "  machine busy (${busy}%), waiting" >&2
        sleep 10
    done
}

mkdir -p "$OUT"
if [ "$REPORT_ONLY" = 0 ]; then
rm -f "$OUT/peer.jsonl" "$OUT/scorelab.jsonl"
peer() {  # SCRIPT ARGS...: one run of a peer script
    local script=$1; shift
    wait_idle
    echo "peer $script $*" >&2
    (cd "$PEER" && "$PY" "$script.py" --threads "$THREADS" "$@") >> "$OUT/peer.jsonl"
}
peer_local() {  # SCRIPT ARGS...: one run of a peer script of scripts/peer
    local script=$1; shift
    wait_idle
    echo "peer scripts/peer/$script $*" >&2
    "$PY" "scripts/peer/$script.py" --threads "$THREADS" "$@" >> "$OUT/peer.jsonl"
}
ours() {  # WORKLOAD ARGS...: one run of scorelab bench
    wait_idle
    echo "scorelab bench $*" >&2
    "$BIN" bench "$@" --threads "$THREADS" >> "$OUT/scorelab.jsonl"
}

peer matmul_peak
for rep in $(seq 1 "$REPS"); do
    echo "round $rep of $REPS" >&2
    peer swissroll_train --steps "$W1_STEPS"
    ours w1 --train-steps "$W1_STEPS" --reps 1
    peer swissroll_sample --samples "$W2_SAMPLES" --steps "$W2_STEPS"
    ours w2 --samples "$W2_SAMPLES" --sample-steps "$W2_STEPS" --reps 1
    peer empirical_score --framework torch --reps "$W3_REPS"
    ours w3 --reps "$W3_REPS"
    peer swissroll_sliced --steps "$W4_STEPS"
    peer swissroll_hyvarinen --steps "$W4_STEPS"
    ours w4 --train-steps "$W4_STEPS" --reps 1
    peer_local unet_train --steps "$W5_STEPS"
    ours w5 --unet-steps "$W5_STEPS" --reps 1
done
# W5's kernels: the U-Net's 3x3 convolutions, forward and input gradient
peer_local conv_kernels --reps "$REPS"
ours conv --reps "$REPS"
fi

"$PY" - "$OUT" "$REPORT" "$THREADS" "$REPS" "$QUICK" <<'PYTHON'
import json, os, platform, statistics, subprocess, sys
out, report, threads, reps, quick = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"

def lines(name):
    with open(os.path.join(out, name)) as f:
        return [json.loads(l) for l in f if l.strip()]

peer, ours = lines("peer.jsonl"), lines("scorelab.jsonl")
def values(records, bench, field):
    return [r[field] for r in records if r.get("bench") == bench]

peak = next(r for r in peer if r["bench"] == "matmul_peak")
# the machine's float32 GEMM peak: the faster of torch (MKL) and numpy (OpenBLAS) at 4096³
peak_gflops = max(max(x["torch_gflops"], x["numpy_gflops"]) for x in peak["results"] if x["shape"] == "4096x4096x4096")
rows = [
    # workload, bench, our field, peer field, higher is better, target ratio (ours/peer)
    ("W1 dsm training", "swissroll_train_dsm", "steps_per_s", "steps_per_s", True, 1.5),
    ("W2 EM sampling", "swissroll_sample_em", "wall_s", "wall_s", False, 0.6),
    ("W3 empirical score", "empirical_score", "median_s", "torch_median_s", False, 0.85),
    ("W4 ssm training", "swissroll_train_sliced", "steps_per_s", "steps_per_s", True, 1.5),
    ("W4 hyvarinen training", "swissroll_train_hyvarinen", "steps_per_s", "steps_per_s", True, 1.5),
    ("W5 MNIST U-Net dsm training", "mnist_unet_dsm", "steps_per_s", "steps_per_s", True, 1.0),
]
def cell(v):
    return f"{statistics.median(v):.3g} [{min(v):.3g}–{max(v):.3g}]"
table = ["| workload | metric | scorelab | PyTorch peer | ratio scorelab / peer | target | met |",
         "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
for name, bench, field, peer_field, higher, target in rows:
    a, b = values(ours, bench, field), values(peer, bench, peer_field)
    if not a or not b:
        continue
    ratio = statistics.median(a) / statistics.median(b)
    met = ratio >= target if higher else ratio <= target
    metric = "steps/s (higher is better)" if higher else "wall s (lower is better)"
    sign = "≥" if higher else "≤"
    table.append(f"| {name} | {metric} | {cell(a)} | {cell(b)} | {ratio:.2f} | {sign} {target} | {'yes' if met else 'no'} |")
w3 = values(ours, "empirical_score", "gflops")
w3_peer = values(peer, "empirical_score", "torch_gflops")
conv_rows = []
conv_ours = next((r for r in ours if r.get("bench") == "conv_kernels"), None)
conv_peer = next((r for r in peer if r.get("bench") == "conv_kernels"), None)
if conv_ours and conv_peer:
    conv_rows = ["", "W5's kernels (`scorelab bench conv` against `scripts/peer/conv_kernels.py`, GFLOP/s, median of",
                 f"{20 * reps} calls): the tiny U-Net's 3×3 convolutions at batch 64.", "",
                 "scorelab's host kernels are what the U-Net runs on the CPU; burn's are beside them.", "",
                 "| shape | forward: host | burn | torch | host / torch | input gradient: host | burn | torch | host / torch |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for a, b in zip(conv_ours["results"], conv_peer["results"]):
        fh, fa, fb = a["host_forward_gflops"], a["forward_gflops"], b["forward_gflops"]
        gh, ga, gb = a["host_input_gradient_gflops"], a["input_gradient_gflops"], b["input_gradient_gflops"]
        conv_rows.append(f"| {a['shape']} | {fh:.1f} | {fa:.1f} | {fb:.1f} | {fh / fb:.2f} | {gh:.1f} | {ga:.1f} | {gb:.1f} | {gh / gb:.2f} |")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0) / 2**20
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
torch_version = next((r.get("torch") for r in peer if "torch" in r), "?")
text = f"""# Performance

Generated by `scripts/bench-vs-peer.sh --threads {threads} --reps {reps}{' --quick' if quick else ''}`: the workloads of
DESIGN §8 run by `scorelab bench` and by the PyTorch/NumPy peer (`../shared/peer`; W5's twin of
the tiny U-Net in `scripts/peer/unet_train.py`) alternately,
{reps} rounds, each run after the machine is idle. Cells are the median [min–max] over the rounds.
{'**Quick form: reduced sizes, for checking the pipeline only.**' if quick else ''}

Machine: {os.cpu_count()} cores, {cpu}, {mem:.1f} GiB; {threads} threads on both sides.
Software: {rustc}, scorelab flex backend (burn 0.22.1, f32); peer Python {platform.python_version()}, torch {torch_version} (CPU, MKL + oneDNN).

{chr(10).join(table)}

W3 throughput: scorelab {statistics.median(w3):.0f} GFLOP/s, peer {statistics.median(w3_peer):.0f} GFLOP/s;
the machine's float32 GEMM peak measured by the peer (the faster of torch and numpy at 4096³) is {peak_gflops:.0f} GFLOP/s,
so scorelab reaches {100 * statistics.median(w3) / peak_gflops:.0f}% of it (target ≥ 80%).
{chr(10).join(conv_rows)}
"""
marker = "<!-- analysis -->"
tail = ""
if os.path.exists(report):
    old = open(report).read()
    if marker in old:
        tail = old[old.index(marker):]
with open(report, "w") as f:
    f.write(text + ("\n" + tail if tail else ""))
print(text)
PYTHON
