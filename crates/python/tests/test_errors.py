"""Every documented error: the exception type and the message the command line prints."""

import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest

import scorelab
from conftest import ROOT

TRAIN = np.random.default_rng(1).normal(size=(20, 2))


def test_bad_sde_names_and_parameters_are_value_errors():
    with pytest.raises(ValueError, match=r"unknown SDE 'nope' \(expected one of: ve, vp"):
        scorelab.SDE("nope")
    with pytest.raises(ValueError, match="sigma-max"):
        scorelab.SDE("ve")
    with pytest.raises(ValueError, match="invalid parameter beta-min"):
        scorelab.SDE("vp", beta_min=-1.0)
    with pytest.raises(ValueError, match=r"t must lie in \[0, T = 1\]"):
        scorelab.SDE("vp").marginal(2.0)


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(sampler="heun3"), r"unknown sampler 'heun3' \(expected one of: em, pc"),
        (dict(grid="cubic"), r"unknown grid 'cubic'"),
        (dict(eta=0.5), r"eta is the η of sampler exp \(DDIM\) and dpm2m-sde; sampler em takes eps"),
        (dict(sampler="ddim", eps=0.5), r"sampler exp takes eta"),
        (dict(rho=5.0), r"rho and the churn options belong to sampler edm"),
        (dict(rtol=1e-3), r"rtol and atol are the tolerances"),
        (dict(t_min=2.0), r"invalid parameter t-min: must satisfy 0 < t-min < T = 1"),
        (dict(n=0), r"invalid parameter n: must be >= 1"),
        (dict(prior="uniform"), r"unknown prior 'uniform'"),
        (dict(device="tpu"), r"unknown device 'tpu'"),
        (dict(sampler="ode-rk45", nfe=10), r"nfe"),
    ],
)
def test_bad_sampler_options_are_value_errors(options, message):
    with pytest.raises(ValueError, match=message):
        scorelab.sample("empirical", train=TRAIN, **{"steps": 10, **options})


def test_bad_score_arguments_are_value_errors():
    with pytest.raises(ValueError, match="needs train="):
        scorelab.sample("empirical")
    with pytest.raises(ValueError, match="unknown score 'exact'"):
        scorelab.sample("exact", train=TRAIN)
    with pytest.raises(ValueError, match=r"train must have shape \(n, d\).*got shape \(20,\)"):
        scorelab.sample("empirical", train=TRAIN[:, 0])
    with pytest.raises(ValueError, match="train must be an array of numbers"):
        scorelab.sample("empirical", train=[["a", "b"]])
    with pytest.raises(ValueError, match="needs dim="):
        scorelab.sample(lambda x, t: x)
    with pytest.raises(ValueError, match="score must be"):
        scorelab.sample(3.0, train=TRAIN)
    gmm = scorelab.GaussianMixture([1.0], [[0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="dimension 3 but the training set has dimension 2"):
        scorelab.sample(gmm, train=TRAIN)
    with pytest.raises(ValueError, match="prior=\"exact\""):
        scorelab.sample(gmm, prior="exact", steps=5)


def test_a_callable_with_the_wrong_shape_or_an_exception_is_reported():
    with pytest.raises(ValueError, match=r"returned shape \(10, 3\) for x of shape \(10, 2\)"):
        scorelab.sample(lambda x, t: np.zeros((len(x), 3)), dim=2, n=10, steps=5)

    def failing(x, t):
        raise ZeroDivisionError("inside the model")

    with pytest.raises(ZeroDivisionError, match="inside the model"):
        scorelab.sample(failing, dim=2, n=10, steps=5)


def test_a_diverging_callable_is_a_runtime_error_unless_finite_samples_are_kept():
    def blows_up(x, t):
        s = -x.astype(np.float64)
        s[0] = np.inf
        return s

    with pytest.raises(RuntimeError, match="1 of 8 samples became non-finite"):
        scorelab.sample(blows_up, dim=2, n=8, steps=5)
    run = scorelab.sample(blows_up, dim=2, n=8, steps=5, keep_finite=True)
    assert run.samples.shape == (7, 2) and run.nonfinite_rows == [0]


def test_missing_and_corrupt_checkpoints_are_os_errors(tmp_path):
    with pytest.raises(OSError):
        scorelab.Checkpoint(tmp_path / "nothing-here")
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / "checkpoints" / "swissroll-mlp-vp", broken)
    weights = next(p for p in broken.iterdir() if p.suffix == ".bpk")
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(OSError, match="checkpoint"):
        scorelab.Checkpoint(broken)
    with pytest.raises(ValueError, match="unknown weights 'best'"):
        scorelab.Checkpoint(ROOT / "checkpoints" / "swissroll-mlp-vp", weights="best")


def test_a_checkpoint_refuses_another_sde_or_training_set():
    model = scorelab.Checkpoint(ROOT / "checkpoints" / "swissroll-mlp-vp")
    with pytest.raises(ValueError, match="fixes its SDE"):
        scorelab.sample(model, sde=scorelab.SDE("ve", sigma_max=5.0), steps=5)
    with pytest.raises(ValueError, match="fixes its training set"):
        scorelab.sample(model, train=TRAIN, steps=5)
    with pytest.raises(ValueError, match="points have dimension 3 but the score expects 2"):
        model.score(np.zeros((4, 3)), 0.5)


def test_bad_analysis_inputs_are_value_errors():
    with pytest.raises(ValueError, match="points have dimension 3 but the training set has dimension 2"):
        scorelab.memorization(np.zeros((4, 3)), TRAIN)
    with pytest.raises(ValueError, match=r"invalid parameter threshold: must lie in \(0, 1\]"):
        scorelab.memorization(TRAIN, TRAIN, threshold=2.0)
    with pytest.raises(ValueError, match="points have dimension 3 but the score expects 2"):
        scorelab.empirical_score(np.zeros((4, 3)), 0.5, TRAIN)
    with pytest.raises(ValueError, match=r"one time per row, shape \(4,\), got shape \(3,\)"):
        scorelab.empirical_score(np.zeros((4, 2)), np.ones(3) * 0.5, TRAIN)
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        scorelab.dataset("cifar")
    with pytest.raises(OSError):
        scorelab.dataset("csv", path="/nonexistent/points.csv")


def test_ctrl_c_interrupts_a_long_run_and_other_threads_run_meanwhile():
    train = np.random.default_rng(2).normal(size=(4000, 8))
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    def interrupt():
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    # Python leaves SIGINT ignored when it starts with it ignored (a background job of a
    # non-interactive shell does), so the test installs the handler that raises
    # KeyboardInterrupt itself
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threads = [threading.Thread(target=ticker), threading.Thread(target=interrupt)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            # uninterrupted, this takes far longer than the test allows
            scorelab.sample("empirical", train=train, n=4000, steps=100000, seed=1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        signal.signal(signal.SIGINT, previous)
    elapsed = time.monotonic() - started
    assert elapsed < 60
    # the GIL was released: the ticker ran while the sampler did
    assert sum(started < t < started + 0.5 for t in ticks) > 10
