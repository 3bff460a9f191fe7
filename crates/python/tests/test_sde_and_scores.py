"""SDE marginals, prior draws, the empirical score and its divergence against closed forms."""

import numpy as np
import pytest

import scorelab


def vp_alpha(t, beta_min=0.1, beta_max=20.0):
    # α(t) = exp(−½ ∫_0^t β(s) ds), β(s) = β_min + s (β_max − β_min)
    return np.exp(-0.5 * (beta_min * t + 0.5 * t * t * (beta_max - beta_min)))


def test_vp_marginal_is_the_closed_form():
    sde = scorelab.SDE("vp")
    alpha, shift, sigma2 = sde.marginal(0.3)
    assert alpha == pytest.approx(vp_alpha(0.3), rel=1e-12)
    assert shift == 0.0
    assert sigma2 == pytest.approx(1.0 - vp_alpha(0.3) ** 2, rel=1e-12)
    ts = np.linspace(0.0, 1.0, 11)
    alphas, _, sigma2s = sde.marginal(ts)
    np.testing.assert_allclose(alphas, vp_alpha(ts), rtol=1e-12)
    np.testing.assert_allclose(sigma2s, 1.0 - vp_alpha(ts) ** 2, rtol=1e-10, atol=1e-15)


def test_ve_marginal_and_prior():
    sde = scorelab.SDE("ve", sigma_min=0.01, sigma_max=10.0)
    alpha, _, sigma2 = sde.marginal(1.0)
    # σ(t) = σ_min (σ_max/σ_min)^t, variance σ(t)² − σ_min²
    assert alpha == 1.0
    assert sigma2 == pytest.approx(10.0**2 - 0.01**2, rel=1e-9)
    assert sde.prior() == (0.0, 100.0)


def test_prior_draws_have_the_prior_moments():
    # 40,000 coordinates of N(0, 1): the mean's standard error is 0.005, the variance's 0.0071;
    # bounds of 5 standard errors fail by chance with probability below 1e-6 each.
    draws = scorelab.SDE("vp").prior_sample(20000, 2, seed=7)
    assert draws.shape == (20000, 2) and draws.dtype == np.float32
    assert abs(draws.mean()) < 5 * 0.005
    assert abs(draws.var() - 1.0) < 5 * 0.0071
    np.testing.assert_array_equal(draws, scorelab.SDE("vp").prior_sample(20000, 2, seed=7))


def numpy_empirical_score(x, t, train, beta_min=0.1, beta_max=20.0):
    """s(x) = (α Σ w_k y_k − x)/σ², w = softmax(−‖x − α y_k‖²/(2σ²)), in float64."""
    alpha = vp_alpha(t, beta_min, beta_max)
    sigma2 = 1.0 - alpha**2
    x = x.astype(np.float64)
    train = train.astype(np.float64)
    logits = -((x[:, None, :] - alpha * train[None, :, :]) ** 2).sum(-1) / (2 * sigma2)
    w = np.exp(logits - logits.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    return (alpha * w @ train - x) / sigma2


@pytest.mark.parametrize("t", [0.05, 0.3, 0.9])
def test_empirical_score_is_the_softmax_formula(rng, t):
    train = rng.normal(size=(300, 3))
    x = rng.normal(size=(40, 3))
    got = scorelab.empirical_score(x, t, train, scorelab.SDE("vp"))
    want = numpy_empirical_score(x, t, train)
    # float32 arithmetic on scores of size up to 1/σ²
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 / (1.0 - vp_alpha(t) ** 2))


def test_empirical_score_takes_one_time_per_row_and_small_chunks(rng):
    train = rng.normal(size=(50, 2))
    x = rng.normal(size=(7, 2))
    ts = np.linspace(0.1, 0.9, 7)
    got = scorelab.empirical_score(x, ts, train, query_chunk=3, data_chunk=8)
    for i, t in enumerate(ts):
        np.testing.assert_allclose(
            got[i], numpy_empirical_score(x[i : i + 1], t, train)[0], rtol=2e-4, atol=1e-3
        )


def test_divergence_matches_central_differences(rng):
    train = rng.normal(size=(80, 2))
    x = rng.normal(size=(10, 2))
    t = 0.4
    _, div = scorelab.empirical_score_and_divergence(x, t, train)
    h = 1e-5
    fd = np.zeros(len(x))
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        fd += (numpy_empirical_score(x + e, t, train)[:, j] - numpy_empirical_score(x - e, t, train)[:, j]) / (2 * h)
    # float64 central differences are accurate to ~1e-8; the divergence is float32
    np.testing.assert_allclose(div, fd, rtol=1e-3, atol=1e-3)


def test_mixture_score_is_the_gaussian_score_for_one_component():
    gmm = scorelab.GaussianMixture([1.0], [[1.0, -2.0]], [[0.5, 2.0]])
    x = np.array([[0.0, 0.0], [2.0, 1.0]])
    t = 0.5
    alpha = vp_alpha(t)
    # X_t ~ N(α μ, α² v + σ²): score −(x − αμ)/(α² v + σ²)
    var = alpha**2 * np.array([0.5, 2.0]) + (1 - alpha**2)
    want = -(x - alpha * np.array([1.0, -2.0])) / var
    np.testing.assert_allclose(gmm.score(x, t), want, rtol=1e-5)
    assert gmm.dim == 2
    assert gmm.sample(5, seed=1).shape == (5, 2)
