"""Sampling: bit-identical to the command line, callables against the built-in mixture score."""

import json
import subprocess

import numpy as np
import pytest

import scorelab
from conftest import ROOT


def run_cli(binary, args, out):
    subprocess.run([binary, *args, "--out", str(out), "--force"], check=True, capture_output=True)
    return np.load(out / "samples.npy")


CASES = [
    ("em", ["--steps", "60"], dict(steps=60)),
    ("pc", ["--steps", "30", "--snr", "0.2"], dict(steps=30, snr=0.2)),
    ("ddim", ["--eta", "0", "--nfe", "15", "--grid", "uniform"], dict(eta=0.0, nfe=15, grid="uniform")),
    ("edm", ["--steps", "12", "--churn", "10"], dict(steps=12, churn=10.0)),
    ("dpm2m", ["--steps", "20", "--t-min", "0.01"], dict(steps=20, t_min=0.01)),
    ("dpm2m-sde", ["--eta", "4", "--nfe", "20"], dict(eta=4.0, nfe=20)),
    ("ode-rk45", ["--rtol", "1e-4", "--atol", "1e-4"], dict(rtol=1e-4, atol=1e-4)),
]


@pytest.mark.parametrize("sampler,flags,options", CASES, ids=[c[0] for c in CASES])
def test_empirical_samples_are_bit_identical_to_the_cli(cli, tmp_path, sampler, flags, options):
    cli_samples = run_cli(
        cli,
        ["sample", "--dataset", "swissroll", "--n-train", "150", "--n", "64", "--seed", "3",
         "--sampler", sampler, *flags],
        tmp_path / "cli",
    )
    train = scorelab.dataset("swissroll", n=150, seed=3)
    run = scorelab.sample("empirical", train=train, sde=scorelab.SDE("vp"), n=64, seed=3,
                          sampler=sampler, **options)
    assert run.samples.dtype == np.float32
    np.testing.assert_array_equal(run.samples, cli_samples)
    summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert run.evaluations == summary["results"]["score_evaluations_per_sample"]


def test_checkpoint_samples_are_bit_identical_to_the_cli(cli, tmp_path):
    checkpoint = ROOT / "checkpoints" / "swissroll-mlp-vp"
    cli_samples = run_cli(
        cli,
        ["sample", "--score", "checkpoint", "--checkpoint", str(checkpoint), "--n", "50",
         "--steps", "40", "--denoise", "--seed", "5"],
        tmp_path / "cli",
    )
    run = scorelab.sample(scorelab.Checkpoint(checkpoint), n=50, steps=40, denoise=True, seed=5)
    np.testing.assert_array_equal(run.samples, cli_samples)
    assert run.evaluations == 41


def test_mnist_checkpoint_samples_are_images_identical_to_the_cli(cli, tmp_path):
    checkpoint = ROOT / "checkpoints" / "mnist-unet-tiny"
    cli_samples = run_cli(
        cli,
        ["sample", "--score", "checkpoint", "--checkpoint", str(checkpoint), "--n", "3",
         "--steps", "4", "--denoise", "--seed", "2"],
        tmp_path / "cli",
    )
    model = scorelab.Checkpoint(checkpoint)
    assert model.image_shape == (1, 28, 28) and model.dim == 784
    run = scorelab.sample(model, n=3, steps=4, denoise=True, seed=2)
    assert run.samples.shape == (3, 1, 28, 28)
    np.testing.assert_array_equal(run.samples, cli_samples)
    assert 0.0 <= run.samples.min() and run.samples.max() <= 1.0


def numpy_mixture_score(weights, means, variances, beta_min=0.1, beta_max=20.0):
    """The exact vp score of Σ w_k N(μ_k, diag v_k) as a callable f(x, t), in float64."""
    weights, means, variances = map(np.asarray, (weights, means, variances))

    def score(x, t):
        t = t[:, None]
        alpha = np.exp(-0.5 * (beta_min * t + 0.5 * t * t * (beta_max - beta_min)))
        x = x.astype(np.float64)
        var = alpha[:, :, None] ** 2 * variances[None] + (1 - alpha[:, :, None] ** 2)
        diff = x[:, None, :] - alpha[:, :, None] * means[None]
        log_p = np.log(weights)[None] - 0.5 * (diff**2 / var + np.log(var)).sum(-1)
        r = np.exp(log_p - log_p.max(1, keepdims=True))
        r /= r.sum(1, keepdims=True)
        return (r[:, :, None] * (-diff / var)).sum(1)

    return score


def test_a_callable_score_samples_like_the_built_in_mixture_score():
    weights, means, variances = [0.3, 0.7], [[-2.0, 0.0], [1.5, 1.0]], [[0.2, 0.3], [0.4, 0.1]]
    calls = []
    exact = numpy_mixture_score(weights, means, variances)

    def callable_score(x, t):
        calls.append((x.shape, t.shape, str(x.dtype), str(t.dtype)))
        return exact(x, t)

    options = dict(n=200, steps=80, seed=11, sampler="em")
    mine = scorelab.sample(callable_score, dim=2, **options)
    builtin = scorelab.sample(scorelab.GaussianMixture(weights, means, variances), **options)
    # one call per step on the whole batch, float32 points and float64 times
    assert len(calls) == mine.evaluations == 80
    assert set(calls) == {((200, 2), (200,), "float32", "float64")}
    # the same noise; the two scores differ only by float32 rounding (about 1e-6 relative)
    np.testing.assert_allclose(mine.samples, builtin.samples, atol=1e-3)


def test_records_and_evaluation_budgets():
    train = scorelab.dataset("swissroll", n=100, seed=1)
    run = scorelab.sample("empirical", train=train, n=20, steps=50, record=[0.5, 0.1], seed=1)
    assert [round(tau, 1) for tau, _ in run.path] == [0.5, 0.1]
    assert all(points.shape == (20, 2) for _, points in run.path)
    budget = scorelab.sample("empirical", train=train, n=20, sampler="edm", nfe=21, denoise=True)
    assert budget.evaluations <= 21
    assert budget.config["kind"] == "edm"


def test_the_same_seed_gives_the_same_samples():
    train = scorelab.dataset("lemniscate", n=80, seed=4)
    a = scorelab.sample("empirical", train=train, n=30, steps=40, seed=9).samples
    b = scorelab.sample("empirical", train=train, n=30, steps=40, seed=9).samples
    c = scorelab.sample("empirical", train=train, n=30, steps=40, seed=10).samples
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
