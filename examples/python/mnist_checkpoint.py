"""Digits from the shipped tiny U-Net, their memorisation against its 60,000 training images
and the same numbers for test images (the level of a model that generalises).

    python examples/python/mnist_checkpoint.py [--n 16] [--nfe 35] [--out digits.npy]
"""

import argparse
import pathlib

import numpy as np

import scorelab

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "mnist-unet-tiny"))
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--nfe", type=int, default=35, help="network evaluations per sample")
    parser.add_argument("--out", help="write the digits (n, 1, 28, 28) to this .npy file")
    args = parser.parse_args()

    model = scorelab.Checkpoint(args.checkpoint)
    print(model)
    # DDIM with the posterior's noise (η = 1) and the Tweedie step, within the budget
    run = scorelab.sample(model, n=args.n, sampler="ddim", eta=1.0, nfe=args.nfe, denoise=True, seed=1)
    print(f"{run.samples.shape[0]} digits of shape {run.samples.shape[1:]}, {run.evaluations} evaluations each")
    train = model.training_set()
    fresh = scorelab.dataset("mnist", split="test", n=args.n, seed=1)
    report = scorelab.memorization(run.samples, train, fresh)
    for label, stats in [("samples", report["samples"]), ("test images", report["fresh"])]:
        print(f"{label:<12} memorised {stats['memorised_fraction']:.3f}  mean d1 {stats['d1']['mean']:.3f}  "
              f"mean d1/d2 {stats['ratio']['mean']:.3f}")
    if args.out:
        np.save(args.out, run.samples)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
