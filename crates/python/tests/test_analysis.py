"""Memorisation report and path diagnostics against brute force and known limits."""

import numpy as np
import pytest

import scorelab
from conftest import ROOT


def test_memorisation_report_is_brute_force_nearest_neighbours(rng):
    train = rng.normal(size=(60, 3)).astype(np.float32)
    copies = train[:20] + 1e-4 * rng.normal(size=(20, 3)).astype(np.float32)
    novel = rng.normal(size=(30, 3)).astype(np.float32)
    samples = np.concatenate([copies, novel])
    fresh = rng.normal(size=(40, 3)).astype(np.float32)
    report = scorelab.memorization(samples, train, fresh)

    dist = np.sqrt(((samples[:, None, :].astype(np.float64) - train[None]) ** 2).sum(-1))
    order = np.argsort(dist, axis=1)
    np.testing.assert_array_equal(report["nearest"], order[:, 0])
    np.testing.assert_allclose(report["d1"], dist[np.arange(50), order[:, 0]], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(report["d2"], dist[np.arange(50), order[:, 1]], rtol=1e-4, atol=1e-5)
    memorised = report["ratio"] < 1 / 3
    assert memorised[:20].all()
    assert report["samples"]["memorised_fraction"] == pytest.approx(memorised.mean())
    assert report["samples"]["count"] == 50
    # each copied training point is counted once
    counts = np.asarray(report["copies"]["counts"])
    assert counts.sum() == memorised.sum() and (counts[:20] >= 1).all()
    assert report["copies"]["distinct_copied"] >= 20
    assert report["fresh"]["count"] == 40
    hist = report["histogram"]
    assert len(hist["edges"]) == 41 and len(hist["centres"]) == 40
    assert hist["samples"].sum() == pytest.approx(1.0)
    assert hist["fresh"].sum() == pytest.approx(1.0)


def test_without_fresh_data_the_baseline_is_none(rng):
    train = rng.normal(size=(10, 2))
    report = scorelab.memorization(train[:4] + 0.5, train)
    assert report["fresh"] is None and report["histogram"]["fresh"] is None


def test_the_empirical_score_against_itself_has_no_score_gap():
    train = scorelab.dataset("swissroll", n=60, seed=2)
    report = scorelab.paths("empirical", train=train, n=40, steps=50, evaluations=6, seed=3)
    assert len(report["tau"]) == 6
    assert report["tau"][0] > report["tau"][-1]
    np.testing.assert_allclose(report["score_gap"], 0.0, atol=1e-6)
    labels = [s["label"] for s in report["series"]]
    assert len(labels) == 2
    model, empirical = report["series"]
    assert model["mean_d1"] == pytest.approx(empirical["mean_d1"])
    # divergence is on by default in two dimensions; the Li–Yau bound −d/σ² is negative
    assert all(b < 0 for b in model["divergence"]["bound"])
    assert report["score_evaluations_per_sample"] == 50


def test_a_trained_network_has_a_positive_score_gap():
    model = scorelab.Checkpoint(ROOT / "checkpoints" / "swissroll-mlp-vp")
    report = scorelab.paths(model, n=40, steps=40, evaluations=5, seed=1)
    gaps = np.asarray(report["score_gap"])
    assert np.isfinite(gaps).all() and (gaps[1:] > 0).all()
    assert report["novikov"] is not None  # em: viscosity 1


def test_a_callable_has_no_divergence_so_paths_leave_it_out(rng):
    train = rng.normal(size=(30, 2))
    sde = scorelab.SDE("vp")

    def score(x, t):
        return scorelab.empirical_score(x, t, train, sde)

    report = scorelab.paths(score, train=train, sde=sde, n=20, steps=20, evaluations=3)
    assert report["series"][0]["divergence"] is None
    np.testing.assert_allclose(report["score_gap"], 0.0, atol=1e-4)
    with pytest.raises(ValueError, match="no divergence"):
        scorelab.paths(score, train=train, n=20, steps=20, evaluations=3, divergence=True)


def test_the_memorisation_numbers_are_those_of_the_cli(cli, tmp_path):
    import json
    import subprocess

    run = tmp_path / "run"
    subprocess.run([cli, "sample", "--dataset", "swissroll", "--n-train", "150", "--n", "64",
                    "--seed", "3", "--out", str(run)], check=True, capture_output=True)
    subprocess.run([cli, "analyze", "memorization", "--samples", str(run / "samples.npy"),
                    "--out", str(tmp_path / "mem")], check=True, capture_output=True)
    cli_report = json.loads((tmp_path / "mem" / "memorization.json").read_text())["memorization"]
    samples = np.load(run / "samples.npy")
    report = scorelab.memorization(samples, scorelab.dataset("swissroll", n=150, seed=3))
    assert report["samples"] == cli_report["samples"]
    assert report["copies"] == cli_report["copies"]
