"""PyTorch twin of `scorelab bench conv`: the 3x3, stride-1, padding-1 convolutions of the tiny
MNIST U-Net's levels at W5's batch of 64 ((16, 28x28), (32, 14x14), (64, 7x7), channels in =
channels out), CPU, float32:

  forward         y = conv2d(x, W) + b
  input gradient  dx = conv_transpose2d(dy, W)   (what autograd runs for dL/dx of conv2d)

each counted as 2*B*H*W*C*C*9 FLOPs, the median of 20*reps runs after 3 warm-up runs.
Prints one JSON line in the record shape of scorelab's.
"""

import argparse
import json
import os
import statistics
import time

SHAPES = [(16, 28), (32, 14), (64, 7)]
BATCH = 64


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="framework thread count (default 2)")
    p.add_argument("--reps", type=int, default=3, help="timed runs are 20*reps (default 3)")
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)

    def median_seconds(run):
        times = []
        for rep in range(20 * args.reps + 3):
            start = time.perf_counter()
            run()
            if rep >= 3:
                times.append(time.perf_counter() - start)
        return statistics.median(times)

    results = []
    with torch.no_grad():
        for channels, side in SHAPES:
            x = torch.randn(BATCH, channels, side, side, generator=gen)
            dy = torch.randn(BATCH, channels, side, side, generator=gen)
            w = torch.randn(channels, channels, 3, 3, generator=gen)
            b = torch.zeros(channels)
            flops = 2.0 * BATCH * side * side * channels * channels * 9
            forward = median_seconds(lambda: F.conv2d(x, w, b, padding=1))
            backward = median_seconds(lambda: F.conv_transpose2d(dy, w, None, padding=1))
            results.append({
                "shape": f"{BATCH}x{channels}x{side}x{side}, 3x3",
                "forward_seconds": forward,
                "forward_gflops": flops / forward / 1e9,
                "input_gradient_seconds": backward,
                "input_gradient_gflops": flops / backward / 1e9,
            })
    record = {
        "workload": "conv", "bench": "conv_kernels", "dtype": "float32", "results": results,
        "framework": f"torch-{torch.__version__}", "device": "cpu", "threads": args.threads,
    }
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
